"""Specification of the permission matrix: every route x every role, machines, the stream filter."""

from __future__ import annotations

from pathlib import Path

import pytest

import acso_shared.auth.permissions as permissions_module
from acso_shared.auth.models import AuthMethod, Principal, PrincipalKind, Role
from acso_shared.auth.permissions import (
    MATRIX,
    authorize,
    is_public,
    may_read_event,
    permissions_for,
    render_markdown,
    resolve_template,
)
from acso_shared.errors import Forbidden

pytestmark = pytest.mark.unit

# The specification, written independently of MATRIX: route -> roles allowed (a=analyst,
# r=responder, o=it_operator, e=executive, x=admin) and machine scopes allowed.
ROLE_LETTERS = {"a": Role.ANALYST, "r": Role.RESPONDER, "o": Role.IT_OPERATOR, "e": Role.EXECUTIVE, "x": Role.ADMIN}
EXPECTED: dict[tuple[str, str], tuple[str, set[str]]] = {
    ("GET", "/v1/me"): ("aroex", {"acso/read", "acso/alerts.write", "acso/webhooks.write"}),
    ("GET", "/v1/stream"): ("aroex", {"acso/read", "acso/alerts.write", "acso/webhooks.write"}),
    ("GET", "/v1/agents"): ("aroex", set()),
    ("GET", "/v1/aws-calls"): ("aroex", set()),  # each service's AWS call counts (issue 19)
    ("POST", "/v1/agents/ping"): ("ox", set()),
    ("GET", "/v1/dlq"): ("ox", set()),
    ("POST", "/v1/dlq/{agent}/replay"): ("x", set()),
    ("POST", "/v1/alerts"): ("rx", {"acso/alerts.write"}),
    ("GET", "/v1/alerts"): ("aroex", {"acso/read"}),
    ("GET", "/v1/alerts/{id}"): ("aroex", {"acso/read"}),
    ("GET", "/v1/workflows"): ("aroex", {"acso/read"}),
    ("GET", "/v1/workflows/{id}"): ("aroex", {"acso/read"}),
    ("GET", "/v1/incidents"): ("aroex", {"acso/read"}),
    ("GET", "/v1/incidents/{id}"): ("aroex", {"acso/read"}),
    ("PATCH", "/v1/incidents/{id}"): ("rx", set()),
    ("POST", "/v1/incidents/{id}/comments"): ("arox", set()),
    ("POST", "/v1/incidents/{id}/close"): ("rx", set()),
    ("GET", "/v1/incidents/{id}/actions"): ("aroex", {"acso/read"}),
    ("POST", "/v1/incidents/{id}/actions/{action_id}/revert"): ("rx", set()),
    ("GET", "/v1/approvals"): ("aroex", set()),
    ("POST", "/v1/approvals/{id}"): ("rx", set()),
    ("GET", "/v1/metrics/incidents"): ("aroex", set()),
    ("GET", "/v1/intel/indicators"): ("aroex", {"acso/read"}),
    ("POST", "/v1/intel/imports"): ("rx", set()),
    ("GET", "/v1/intel/imports/{id}"): ("aroex", {"acso/read"}),
    ("POST", "/v1/intel/match"): ("aroex", {"acso/read"}),
    ("GET", "/v1/intel/search"): ("aroex", {"acso/read"}),
    ("GET", "/v1/rules"): ("aroex", set()),
    ("POST", "/v1/rules"): ("rx", set()),
    ("PATCH", "/v1/rules/{id}"): ("rx", set()),
    ("POST", "/v1/rules/imports"): ("rx", set()),
    ("GET", "/v1/rules/imports/{id}"): ("aroex", set()),
    ("POST", "/v1/hunts"): ("arx", set()),
    ("GET", "/v1/hunts/{id}"): ("aroex", set()),
    ("POST", "/v1/operations"): ("ox", set()),
    ("GET", "/v1/operations"): ("aroex", set()),
    ("GET", "/v1/operations/{id}"): ("aroex", set()),
    ("POST", "/v1/operations/{id}/approve"): ("ox", set()),
    ("POST", "/v1/operations/{id}/reject"): ("ox", set()),
    ("GET", "/v1/tickets"): ("aroex", {"acso/read"}),
    ("POST", "/v1/webhooks/itsm/{system}"): ("", set()),
    ("GET", "/v1/costs/summary"): ("aoex", set()),
    ("GET", "/v1/costs/anomalies"): ("aoex", set()),
    ("GET", "/v1/costs/forecast"): ("aoex", set()),
    ("GET", "/v1/costs/waste"): ("aoex", set()),
    ("POST", "/v1/costs/imports"): ("ox", set()),
    ("GET", "/v1/costs/imports/{id}"): ("aoex", set()),
    ("GET", "/v1/costs/incidents/{incident_id}"): ("aoex", set()),
    ("GET", "/v1/reports/executive"): ("arex", set()),
    ("POST", "/v1/ws/connect"): ("", set()),
    ("POST", "/v1/ws/disconnect"): ("", set()),
    ("POST", "/v1/ws/message"): ("", set()),
}
ALL_SCOPES = ["acso/read", "acso/alerts.write", "acso/webhooks.write"]


def user(*roles: Role) -> Principal:
    return Principal(subject="u-1", username="alice", kind=PrincipalKind.USER, roles=frozenset(roles))


def machine(*scopes: str) -> Principal:
    return Principal(subject="c-1", client_id="c-1", kind=PrincipalKind.MACHINE, scopes=frozenset(scopes))


def webhook() -> Principal:
    return Principal(
        subject="webhook:servicenow",
        kind=PrincipalKind.MACHINE,
        auth_method=AuthMethod.WEBHOOK_HMAC,
        scopes=frozenset({"acso/webhooks.write"}),
    )


def _allowed(principal: Principal, method: str, path: str) -> bool:
    try:
        authorize(principal, method, path)
    except Forbidden:
        return False
    return True


def test_the_matrix_declares_exactly_the_specified_routes() -> None:
    assert {(str(r.method), r.path) for r in MATRIX} == set(EXPECTED)


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
@pytest.mark.parametrize("letter", sorted(ROLE_LETTERS))
def test_each_role_is_allowed_exactly_where_the_specification_says(method: str, path: str, letter: str) -> None:
    allowed_letters, _ = EXPECTED[(method, path)]

    assert _allowed(user(ROLE_LETTERS[letter]), method, path) is (letter in allowed_letters)


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
@pytest.mark.parametrize("scope", ALL_SCOPES)
def test_each_machine_scope_is_allowed_exactly_where_the_specification_says(method: str, path: str, scope: str) -> None:
    _, allowed_scopes = EXPECTED[(method, path)]

    assert _allowed(machine(scope), method, path) is (scope in allowed_scopes)


def test_a_denial_is_forbidden_with_a_stable_code() -> None:
    with pytest.raises(Forbidden) as caught:
        authorize(user(Role.ANALYST), "POST", "/v1/operations")

    assert caught.value.code == "forbidden"
    assert caught.value.status == 403


def test_executives_cannot_approve_containment() -> None:
    assert not _allowed(user(Role.EXECUTIVE), "POST", "/v1/approvals/{id}")


def test_analysts_cannot_run_operations() -> None:
    assert not _allowed(user(Role.ANALYST), "POST", "/v1/operations")


def test_admin_may_call_every_bearer_route() -> None:
    bearer_routes = [r for r in MATRIX if r.auth is AuthMethod.BEARER]

    assert all(_allowed(user(Role.ADMIN), str(r.method), r.path) for r in bearer_routes)


def test_a_user_with_no_known_role_may_only_see_itself_and_the_stream() -> None:
    assert permissions_for(user()) == ["me.read", "stream.connect"]


def test_a_user_token_carrying_a_machine_scope_gains_nothing_from_it() -> None:
    principal = Principal(
        subject="u-2", username="bob", kind=PrincipalKind.USER, scopes=frozenset({"acso/alerts.write"})
    )

    assert not _allowed(principal, "POST", "/v1/alerts")


def test_only_a_signed_webhook_may_call_the_webhook_route() -> None:
    assert _allowed(webhook(), "POST", "/v1/webhooks/itsm/{system}")
    assert not _allowed(user(Role.ADMIN), "POST", "/v1/webhooks/itsm/{system}")
    assert not _allowed(machine("acso/webhooks.write"), "POST", "/v1/webhooks/itsm/{system}")


def test_a_webhook_principal_may_call_nothing_else() -> None:
    assert permissions_for(webhook()) == ["webhooks.itsm"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/unknown"), ("DELETE", "/v1/incidents/{id}"), ("TRACE", "/v1/me"), ("GET", "/v1/incidents/42")],
)
def test_undeclared_routes_are_denied_even_to_admin(method: str, path: str) -> None:
    assert not _allowed(user(Role.ADMIN), method, path)


def test_head_is_authorized_like_get() -> None:
    assert _allowed(user(Role.ANALYST), "HEAD", "/v1/alerts")
    assert not _allowed(user(Role.RESPONDER), "HEAD", "/v1/costs/summary")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json"])
def test_health_and_openapi_are_public(path: str) -> None:
    assert is_public("GET", path)
    assert is_public("HEAD", path)


@pytest.mark.parametrize(("method", "path"), [("POST", "/healthz"), ("GET", "/v1/me"), ("GET", "/healthz/")])
def test_nothing_else_is_public(method: str, path: str) -> None:
    assert not is_public(method, path)


def test_me_lists_the_permissions_of_a_responder() -> None:
    permissions = permissions_for(user(Role.RESPONDER))

    assert "approvals.decide" in permissions
    assert "operations.run" not in permissions
    assert permissions == sorted(permissions)


def test_mutating_routes_are_flagged_for_audit() -> None:
    assert authorize(user(Role.RESPONDER), "POST", "/v1/incidents/{id}/close").mutating
    assert not authorize(user(Role.ANALYST), "GET", "/v1/incidents").mutating
    assert not authorize(user(Role.ANALYST), "POST", "/v1/intel/match").mutating


@pytest.mark.parametrize(
    ("role", "event", "visible"),
    [
        (Role.ANALYST, "incident.opened", True),
        (Role.EXECUTIVE, "cost.anomaly_detected", True),
        (Role.RESPONDER, "cost.anomaly_detected", False),
        (Role.ANALYST, "dlq.message_dead_lettered", False),
        (Role.IT_OPERATOR, "dlq.message_dead_lettered", True),
        (Role.ADMIN, "secret.rotated", False),
        (Role.ADMIN, "", False),
    ],
)
def test_stream_events_are_visible_only_to_roles_that_may_read_their_domain(
    role: Role, event: str, visible: bool
) -> None:
    assert may_read_event(user(role), event) is visible


def test_a_machine_reader_sees_incidents_but_not_approvals_on_the_stream() -> None:
    reader = machine("acso/read")

    assert may_read_event(reader, "incident.updated")
    assert not may_read_event(reader, "approval.requested")


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/v1/incidents/42/close", "/v1/incidents/{id}/close"),
        ("GET", "/v1/intel/imports/9", "/v1/intel/imports/{id}"),
        ("POST", "/v1/intel/imports", "/v1/intel/imports"),
        ("POST", "/v1/incidents/7/actions/a-1/revert", "/v1/incidents/{id}/actions/{action_id}/revert"),
        ("GET", "/v1/incidents//actions", None),
        ("GET", "/v1/nothing", None),
    ],
)
def test_concrete_paths_resolve_to_their_declared_template(method: str, path: str, template: str | None) -> None:
    assert resolve_template(method, path) == template


def test_the_markdown_table_has_one_row_per_route() -> None:
    table = render_markdown()

    assert len(table.strip().splitlines()) == len(MATRIX) + 2
    assert "| POST | `/v1/approvals/{id}` | approvals.decide |  | yes |  |  | yes |  |" in table


def test_the_readme_shows_the_current_matrix() -> None:
    readme = (Path(permissions_module.__file__).parent / "README.md").read_text()

    assert readme.endswith(render_markdown())
