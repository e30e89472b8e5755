"""The permission matrix, walked over every route every service registers: the roles it allows
get past the middleware, every other role gets 403, and no route exists outside the matrix."""

from __future__ import annotations

import re

import pytest

from acso_shared.auth.models import AuthMethod, Principal, PrincipalKind, Role
from acso_shared.auth.permissions import authorize, rule_for
from acso_shared.errors import Forbidden
from acso_shared.resources import Agent
from acso_shared.web.keys import ENDPOINTS
from tests.integration.security.support_security import service_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

_PLACEHOLDER = re.compile(r"{[^}]+}")


def _allowed(role: Role, method: str, template: str) -> bool:
    user = Principal(
        subject=f"walk-{role.value}", username=role.value, kind=PrincipalKind.USER, roles=frozenset({role})
    )
    try:
        authorize(user, method, template)
    except Forbidden:
        return False
    return True


@pytest.mark.parametrize("agent", list(Agent), ids=lambda a: a.value)
async def test_every_route_admits_exactly_the_roles_the_matrix_allows(stack: TestStack, agent: Agent) -> None:
    app = service_app(stack, agent)
    endpoints = [e for e in app[ENDPOINTS] if not e.public]
    undeclared = [f"{e.method} {e.path}" for e in endpoints if rule_for(e.method, e.path) is None]
    assert undeclared == [], f"{agent.value} registers routes missing from the permission matrix"
    failures: list[str] = []
    async with running(app) as client:
        for endpoint in endpoints:
            rule = rule_for(endpoint.method, endpoint.path)
            assert rule is not None
            # A fresh placeholder value: nothing exists under it, so allowed calls change nothing.
            path = _PLACEHOLDER.sub("matrix-walk-0", endpoint.path)
            for role in Role:
                response = await client.request(endpoint.method, path, json={}, headers=stack.auth(role.value))
                if rule.auth is AuthMethod.WEBHOOK_HMAC:
                    # A bearer token is no signature: no role gets through (401, or 404 for an
                    # integration the route does not know, checked before the signature).
                    expected_ok = response.status in (401, 404)
                elif _allowed(role, endpoint.method, endpoint.path):
                    expected_ok = response.status not in (401, 403)
                else:
                    expected_ok = response.status == 403
                if not expected_ok:
                    failures.append(f"{endpoint.method} {endpoint.path} as {role.value}: {response.status}")
    assert failures == []


async def test_executives_cannot_approve_containment_and_analysts_cannot_run_operations(stack: TestStack) -> None:
    async with running(service_app(stack, Agent.SUPERVISOR)) as client:
        approve = await client.post("/v1/approvals/walk-1", json={}, headers=stack.auth("executive"))
        operate = await client.post("/v1/operations", json={}, headers=stack.auth("analyst"))
    # The supervisor need not serve these routes: the matrix is decided before routing.
    assert approve.status == 403
    assert operate.status == 403
