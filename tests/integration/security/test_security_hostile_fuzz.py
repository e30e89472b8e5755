"""A seeded fuzz campaign of hostile values over every route of every service (issue 18): each
operation of each service's OpenAPI document gets path, query and JSON-body values drawn from a
corpus of what breaks backends (NUL, lone surrogates, 1e308 and 1e999, deep nesting, 100 kB
strings, unicode look-alikes in identifiers, wrong types), and the alert route gets every alert
fixture (GuardDuty raw and EventBridge, Security Hub ASFF, OCSF, Splunk, generic) with one hostile
value planted at one of its leaves. The assertions: never a 5xx, every error is the JSON error
body, and never a half-written record: when every request to a mutating route was refused, no row
of the service's database changed (the audit log aside, which records refusals on purpose).

Hypothesis runs derandomized (the same examples on every run) with a bounded number per
operation, so the campaign is deterministic and stays within about a minute. Requests go over
real HTTP to the in-process app (requests in a worker thread, as schemathesis does next door).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acso_shared.db import Database
from acso_shared.resources import Agent
from tests.integration.security.support_security import service_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

EXAMPLES_PER_OPERATION = 5
ALERT_EXAMPLES = 60
ALERTS = Path(__file__).parents[2] / "fixtures" / "alerts"

DEEP = 200
HOSTILE_TEXT: list[Any] = [
    "\u0000",
    "title\u0000with a NUL",
    "\ud800",
    "lone \udfff low surrogate",
    "A" * 100_000,
    "\uff49-\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff41\uff42\uff43",  # fullwidth i-0123...
    "i-0123456789abcdef0\u202e",  # right-to-left override
    "😀" * 50,
    "İstanbul ß ﬀ",
    "",
    " ",
    "'; DROP TABLE incidents; --",
    "../../../../etc/passwd",
    "%00",
    "${jndi:ldap://127.0.0.1/a}",
]
HOSTILE_NUMBERS: list[Any] = [1e308, -1e308, 2**63, -(2**63) - 1, 10**40, -1, 0, 0.5]
HOSTILE_SHAPES: list[Any] = [
    None,
    True,
    [],
    {},
    {"\u0000key": "v"},
    {"a" * 1000: 1},
    json.loads("[" * DEEP + "]" * DEEP),
    [{"nested": [{"deeper": ["\u0000"]}]}],
]
HOSTILE = HOSTILE_TEXT + HOSTILE_NUMBERS + HOSTILE_SHAPES
# Bodies that are not what `json.dumps` can write: out-of-range numbers, invalid UTF-8, nesting
# beyond any parser's patience, a bare constant.
RAW_BODIES = [b'{"x": 1e999}', b"[1e999]", b'{"x": "\xff\xfe"}', b"[" * 100_000, b"NaN", b'"\\u0000"']
PATH_VALUES = [
    "%00",
    "%ED%A0%80",
    quote("\uff49-\uff10\uff11\uff12\uff13"),
    quote("😀"),
    "A" * 2000,
    "..%2F..%2Fetc",
    "00000000-0000-0000-0000-000000000000",
    "1e308",
]
_PATH_PARAM = re.compile(r"{([^}]+)}")


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path, operation))
    return found


def _body_fields(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("properties", {}))


def _check(response: requests.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert response.headers.get("Content-Type", "").startswith("application/json"), f"{what}: {response.text[:200]}"
        assert "error" in response.json(), what


def _sendable(value: Any) -> bool:
    """A query value a URL can carry (lone surrogates have no UTF-8 form to percent-encode)."""
    return not isinstance(value, str) or value.isascii() or _encodes(value)


def _encodes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


QUERY_VALUES = [str(v) for v in HOSTILE_TEXT[:10] + HOSTILE_NUMBERS if _sendable(v)]


def _fuzz_operation(
    session: requests.Session,
    base_url: str,
    headers: dict[str, str],
    method: str,
    path: str,
    query_names: list[str],
    fields: list[str],
    has_body: bool,
) -> None:
    @given(data=st.data())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(data: st.DataObject) -> None:
        url_path = _PATH_PARAM.sub(lambda _: data.draw(st.sampled_from(PATH_VALUES)), path)
        names = data.draw(st.lists(st.sampled_from(query_names), unique=True)) if query_names else []
        query = {name: data.draw(st.sampled_from(QUERY_VALUES)) for name in names}
        kwargs: dict[str, Any] = {"params": query, "headers": dict(headers), "timeout": 30}
        if has_body:
            if not fields or data.draw(st.booleans()):
                kwargs["data"] = data.draw(st.sampled_from(RAW_BODIES))
            else:
                chosen = data.draw(st.lists(st.sampled_from(fields), min_size=1, unique=True))
                kwargs["data"] = json.dumps({name: data.draw(st.sampled_from(HOSTILE)) for name in chosen}).encode()
            kwargs["headers"]["Content-Type"] = "application/json"
        response = session.request(method, f"{base_url}{url_path}", **kwargs)
        _check(response, f"{method} {url_path[:120]} query={list(query)}")

    run()


class _Statuses(requests.Session):
    """A session that remembers the status of every response (to tell whether anything succeeded)."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(*args, **kwargs)
        self.statuses.append(response.status_code)
        return response


def _fuzz_routes(
    document: dict[str, Any], base_url: str, headers: dict[str, str], rows: Callable[[], dict[str, int]]
) -> list[str]:
    failures: list[str] = []
    session = _Statuses()
    for method, path, operation in _operations(document):
        query_names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
        fields = _body_fields(document, operation)
        has_body = "requestBody" in operation or method in ("POST", "PATCH", "PUT")
        before = rows() if method != "GET" else {}
        session.statuses.clear()
        try:
            _fuzz_operation(session, base_url, headers, method, path, query_names, fields, has_body)
        except Exception as err:
            failures.append(f"{method} {path}: {str(err)[:600]}")
            continue
        if method != "GET" and all(status >= 400 for status in session.statuses):
            after = rows()
            changed = {t: (before.get(t), n) for t, n in after.items() if before.get(t) != n}
            if changed:
                failures.append(f"{method} {path}: refused every request, yet rows changed: {changed}")
    return failures


_ROW_COUNTS = """
SELECT table_name FROM information_schema.tables
WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
  AND table_name NOT LIKE 'audit%' AND table_name NOT LIKE '%migrations%'
"""


def _row_counter(loop: asyncio.AbstractEventLoop, db: Database) -> Callable[[], dict[str, int]]:
    """Row counts of every table, read on the test's loop from the fuzzing thread."""

    async def count() -> dict[str, int]:
        tables = [r["table_name"] for r in await db.fetch(_ROW_COUNTS)]
        # Table names come from the catalog, not from a request.
        return {t: int(await db.fetchval(f'SELECT count(*) FROM "{t}"')) for t in tables}  # noqa: S608

    return lambda: asyncio.run_coroutine_threadsafe(count(), loop).result(timeout=30)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, child in value.items() for p in _leaves(child, (*path, key))] or [path]
    if isinstance(value, list):
        return [p for index, child in enumerate(value) for p in _leaves(child, (*path, index))] or [path]
    return [path]


def _plant(document: Any, path: tuple[Any, ...], hostile: Any) -> Any:
    if not path:
        return hostile
    copy = json.loads(json.dumps(document))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = hostile
    return copy


def _fuzz_alerts(base_url: str, headers: dict[str, str]) -> list[str]:
    fixtures = [json.loads(p.read_text()) for p in sorted(ALERTS.glob("*.json"))]
    planted = [(i, leaf) for i, doc in enumerate(fixtures) for leaf in _leaves(doc)]
    session = requests.Session()

    @given(target=st.sampled_from(planted), hostile=st.sampled_from(HOSTILE))
    @settings(
        max_examples=ALERT_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(target: tuple[int, tuple[Any, ...]], hostile: Any) -> None:
        index, leaf = target
        body = json.dumps(_plant(fixtures[index], leaf, hostile)).encode()
        response = session.post(
            f"{base_url}/v1/alerts",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=30,
        )
        _check(response, f"alert fixture {index} leaf {leaf!r} = {str(hostile)[:40]!r}")

    try:
        run()
    except Exception as err:
        return [str(err)[:1500]]
    return []


@pytest.mark.parametrize("agent", list(Agent), ids=lambda a: a.value)
async def test_hostile_values_on_every_route_never_get_a_5xx_or_a_non_json_error(
    stack: TestStack, agent: Agent
) -> None:
    db = Database(stack.database_url)
    await db.connect()
    try:
        async with running(service_app(stack, agent)) as client:
            document = await (await client.get("/openapi.json")).json()
            base_url = str(client.make_url("")).rstrip("/")
            rows = _row_counter(asyncio.get_running_loop(), db)
            failures = await asyncio.to_thread(_fuzz_routes, document, base_url, stack.auth("admin"), rows)
    finally:
        await db.close()
    assert failures == [], "\n".join(failures)


async def test_every_alert_format_with_a_hostile_value_planted_never_gets_a_5xx(stack: TestStack) -> None:
    async with running(service_app(stack, Agent.SUPERVISOR)) as client:
        base_url = str(client.make_url("")).rstrip("/")
        failures = await asyncio.to_thread(_fuzz_alerts, base_url, stack.auth("admin"))
    assert failures == [], "\n".join(failures)
