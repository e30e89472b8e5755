"""The console's server side on the real supervisor app, emulated Cognito and all: the page under a
strict CSP, its assets, the password login and refresh, and the same-origin API proxy."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from acso_shared.local.processes import free_port
from acso_shared.resources import Agent
from acso_supervisor.console.routes import CONSOLE_SETTINGS
from acso_supervisor.console.settings import ConsoleSettings
from tests.integration.security.support_security import service_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_the_page_and_its_assets_are_served_under_a_csp_without_inline_code(stack: TestStack) -> None:
    async with running(service_app(stack, Agent.SUPERVISOR)) as client:
        page = await client.get("/")
        assert page.status == 200
        assert page.content_type == "text/html"
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp
        assert "style-src 'self';" in csp
        assert "unsafe-inline" not in csp
        html = await page.text()
        # relative URLs: in AWS the page sits under the REST API's stage path (/<stage>/)
        assert '<script type="module" src="console/app.js">' in html
        assert 'src="/' not in html
        assert 'href="/' not in html
        assert "<script>" not in html
        assert "style=" not in html
        script = await client.get("/console/app.js")
        assert (script.status, script.content_type) == (200, "text/javascript")
        assert 'from "/' not in await script.text()
        for name in ("..%2Fapp.py", "routes.py", "missing.js", "index.html"):
            missing = await client.get(f"/console/{name}")
            assert missing.status == 404, name
            assert (await missing.json())["error"]["code"] in ("console_asset_not_found", "not_found")
        config = await (await client.get("/console/session/config")).json()
        assert config["login"] == "password"
        assert config["client_id"] == stack.provisioned.app_client_id
        assert "supervisor" in config["services"]
        # The console is not part of the API contract.
        paths = (await (await client.get("/openapi.json")).json())["paths"]
        assert not [p for p in paths if p == "/" or p.startswith("/console")]


async def test_a_demo_user_logs_in_refreshes_and_wrong_passwords_are_refused(stack: TestStack) -> None:
    async with running(service_app(stack, Agent.SUPERVISOR)) as client:
        username = "demo-responder"
        password = stack.provisioned.demo_passwords["responder"]
        login = await client.post("/console/session/login", json={"username": username, "password": password})
        assert login.status == 200, await login.text()
        tokens = await login.json()
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert "approvals.decide" in (await me.json())["permissions"]
        refreshed = await client.post("/console/session/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status == 200, await refreshed.text()
        assert (await refreshed.json())["access_token"]

        wrong = await client.post("/console/session/login", json={"username": username, "password": "not-it-1A!"})
        assert (wrong.status, (await wrong.json())["error"]["code"]) == (401, "login_failed")
        nobody = await client.post("/console/session/login", json={"username": "nobody", "password": "x"})
        assert nobody.status == 401
        for body in (b"{", b'{"username": "a"}', b'{"username": "a", "password": "b", "admin": true}'):
            bad = await client.post("/console/session/login", data=body, headers={"Content-Type": "application/json"})
            assert bad.status == 400, body
        garbage = await client.post("/console/session/refresh", json={"refresh_token": "not-a-token"})
        assert garbage.status in (400, 401)


async def test_the_proxy_forwards_the_callers_own_token_and_the_service_still_decides(stack: TestStack) -> None:
    # The supervisor proxies to itself here (the other agents do not run in this spec).
    port = free_port()
    app = service_app(stack, Agent.SUPERVISOR)
    app[CONSOLE_SETTINGS] = ConsoleSettings(upstream_ports={"supervisor": port})
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    try:
        me = await client.get("/console/api/supervisor/v1/me", headers=stack.auth("analyst"))
        assert me.status == 200
        assert (await me.json())["roles"] == ["analyst"]
        denied = await client.get("/console/api/supervisor/v1/dlq", headers=stack.auth("analyst"))
        assert (denied.status, (await denied.json())["error"]["code"]) == (403, "forbidden")
        anonymous = await client.get("/console/api/supervisor/v1/me")
        assert (anonymous.status, (await anonymous.json())["error"]["code"]) == (401, "token_missing")
        unknown = await client.get("/console/api/mainframe/v1/me", headers=stack.auth("analyst"))
        assert (unknown.status, (await unknown.json())["error"]["code"]) == (404, "console_service_unknown")
        absent = await client.get(
            "/console/api/supervisor/v1/alerts/00000000-0000-0000-0000-000000000000",
            headers={**stack.auth("analyst"), "X-ACSO-Absent-Ok": "1"},
        )
        assert absent.status == 200
        assert (await absent.json())["absent"] is True
    finally:
        await client.close()
