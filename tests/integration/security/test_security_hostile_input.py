"""Hostile input at the front door of every service: text PostgreSQL cannot store, out-of-range
parameters and wrong methods are 4xx with the JSON error body, never a 500.

The cases are the ones a hostile-client review found answering 500 or 403 (issue 18).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from acso_shared.resources import Agent
from tests.integration.security.support_security import service_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LONE_SURROGATE_BODY = b'{"text": "half of a pair: \\ud800"}'


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def call(client: TestClient[Any, Any], method: str, url: str | URL, **kwargs: Any) -> Answer:
    async with client.request(method, url, **kwargs) as response:
        return Answer(response.status, dict(response.headers), await response.read())


async def _error(answer: Answer) -> dict[str, Any]:
    assert answer.headers["Content-Type"].startswith("application/json"), answer.body
    body: dict[str, Any] = json.loads(answer.body)["error"]
    assert body["request_id"]
    return body


async def test_typed_text_with_a_nul_is_400_text_invalid_naming_the_field(stack: TestStack) -> None:
    incident = uuid.uuid4()
    async with running(service_app(stack, Agent.INCIDENT_RESPONSE)) as client:
        comment = await call(
            client,
            "POST",
            f"/v1/incidents/{incident}/comments",
            json={"text": "bad\u0000byte"},
            headers=stack.auth("responder"),
        )
        title = await call(
            client, "PATCH", f"/v1/incidents/{incident}", json={"title": "x\u0000"}, headers=stack.auth("responder")
        )
        surrogate = await call(
            client,
            "POST",
            f"/v1/incidents/{incident}/comments",
            data=LONE_SURROGATE_BODY,
            headers={**stack.auth("responder"), "Content-Type": "application/json"},
        )
        approval = await call(
            client,
            "POST",
            f"/v1/approvals/{uuid.uuid4()}",
            json={"decision": "approve", "comment": "\u0000"},
            headers=stack.auth("responder"),
        )

    assert comment.status == 400
    assert (body := await _error(comment))["code"] == "text_invalid"
    assert body["message"].startswith("text:")
    assert title.status == 400
    assert (body := await _error(title))["code"] == "text_invalid"
    assert body["message"].startswith("title:")
    assert surrogate.status == 400
    assert (body := await _error(surrogate))["code"] == "text_invalid"
    assert "surrogate" in body["message"]
    assert approval.status == 400
    assert (await _error(approval))["code"] == "text_invalid"


async def test_a_nul_in_a_path_or_query_is_400_with_the_json_error_body(stack: TestStack) -> None:
    async with running(service_app(stack, Agent.INCIDENT_RESPONSE)) as incidents:
        by_path = await call(incidents, "GET", URL("/v1/incidents/%00", encoded=True), headers=stack.auth("analyst"))
        by_query = await call(
            incidents, "GET", URL("/v1/incidents?assignee=%00", encoded=True), headers=stack.auth("analyst")
        )
    async with running(service_app(stack, Agent.THREAT_HUNTER)) as hunter:
        search = await call(hunter, "GET", URL("/v1/intel/search?q=%00", encoded=True), headers=stack.auth("analyst"))

    for response, field in ((by_path, "path"), (by_query, "query.assignee"), (search, "query.q")):
        assert response.status == 400
        body = await _error(response)
        assert body["code"] == "text_invalid"
        assert body["message"].startswith(f"{field}:")


async def test_a_cost_window_outside_the_calendar_is_400_not_an_overflow(stack: TestStack) -> None:
    async with running(service_app(stack, Agent.FINANCIAL_INTELLIGENCE)) as client:
        ancient = await call(
            client, "GET", "/v1/costs/summary?end=0001-01-01&days=365", headers=stack.auth("executive")
        )
        future = await call(client, "GET", "/v1/costs/anomalies?since=9999-12-31", headers=stack.auth("executive"))

    for response in (ancient, future):
        assert response.status == 400
        assert (await _error(response))["code"] == "invalid_query"


async def test_a_wrong_method_is_405_with_allow_after_authentication(stack: TestStack) -> None:
    incident = f"/v1/incidents/{uuid.uuid4()}"
    async with running(service_app(stack, Agent.INCIDENT_RESPONSE)) as client:
        put = await call(client, "PUT", incident, json={}, headers=stack.auth("admin"))
        delete = await call(client, "DELETE", incident, headers=stack.auth("analyst"))
        anonymous = await call(client, "DELETE", incident)

    assert put.status == 405
    assert (await _error(put))["code"] == "method_not_allowed"
    assert set(put.headers["Allow"].split(", ")) == {"GET", "PATCH"}
    assert delete.status == 405
    assert anonymous.status == 401
    assert "Allow" not in anonymous.headers


async def test_an_over_long_request_line_or_header_gets_the_json_error_body(stack: TestStack) -> None:
    async with running(service_app(stack, Agent.INCIDENT_RESPONSE)) as client:
        long_line = await call(client, "GET", f"/v1/incidents?assignee={'a' * 9000}", headers=stack.auth("analyst"))
        long_header = await call(client, "GET", "/v1/incidents", headers={**stack.auth("analyst"), "X-Pad": "b" * 9000})

    for answer in (long_line, long_header):
        assert answer.status == 400
        body = await _error(answer)
        assert body["code"] == "request_line_too_long"
