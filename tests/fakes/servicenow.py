"""A ServiceNow instance on 127.0.0.1: the Table API for incident and change_request, OAuth.

Implements what the adapter relies on, with ServiceNow's documented shapes:
- `POST /oauth_token.do` (client-credentials grant) -> `{"access_token", "expires_in", ...}`;
- `GET /api/now/table/{table}` with `sysparm_query` (`field=value` terms joined by `^`,
  `ORDERBY<field>`), `sysparm_fields`, `sysparm_limit` -> 200 `{"result": [...]}`;
- `POST /api/now/table/{table}` -> 201 `{"result": {...}}` with sys_id (32 hex), number
  (INC0010001 / CHG0030001), state (incident 1, change -5), sys_created_on/sys_updated_on;
- `GET|PATCH|PUT /api/now/table/{table}/{sys_id}` -> 200 `{"result": {...}}`, 404 when absent;
  journal fields `comments`/`work_notes` append entries instead of being stored;
  resolving an incident (state 6) or closing a change_request (state 3) without close_code and
  close_notes fails like the data policies do;
- 401 `{"error": {"message": "User Not Authenticated", ...}, "status": "failure"}` on bad auth.

Switches: `fail_next(status, times, retry_after)` injects 429/5xx responses (`recover()` stops
them); `ticket_side_update` changes a record as a ServiceNow user would and POSTs the business
rule's signed message to `webhook_url`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

JOURNAL_FIELDS = ("comments", "work_notes")
USER_KEY = web.RequestKey("user", str)
TABLE_PREFIX = {"incident": ("INC", 10001), "change_request": ("CHG", 30001)}
INITIAL_STATE = {"incident": "1", "change_request": "-5"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _failure(status: int, message: str, detail: str) -> web.Response:
    return web.json_response({"error": {"message": message, "detail": detail}, "status": "failure"}, status=status)


@dataclass
class JournalEntry:
    field: str
    value: str
    author: str
    created_on: str


@dataclass
class FakeServiceNow:
    """In-memory ServiceNow. Create with `start_servicenow()`."""

    username: str = "acso.integration"
    password: str = "s3cret-password"
    client_id: str = "acso-client"
    client_secret: str = "acso-client-secret"
    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {t: {} for t in TABLE_PREFIX})
    journal: dict[str, list[JournalEntry]] = field(default_factory=dict)
    # Every state a record took, by sys_id (ServiceNow's audit history keeps the same).
    state_history: dict[str, list[str]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    webhook_url: str | None = None
    webhook_signer: Callable[[bytes], dict[str, str]] | None = None
    base_url: str = ""
    _failures: list[tuple[int, str | None]] = field(default_factory=list)
    _counters: dict[str, int] = field(default_factory=lambda: {t: start for t, (_, start) in TABLE_PREFIX.items()})

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` API requests with `status` (and a Retry-After header if given)."""
        self._failures.extend([(status, retry_after)] * times)

    def recover(self) -> None:
        """Stop injecting failures: the instance answers normally again."""
        self._failures.clear()

    def records(self, table: str) -> list[dict[str, Any]]:
        """All records of a table, oldest first."""
        return list(self.tables[table].values())

    def _user(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and header[7:] in self.tokens:
            return str(self.username)
        try:
            auth = aiohttp.BasicAuth.decode(header)
        except ValueError:
            return None
        if secrets.compare_digest(auth.login, self.username) and secrets.compare_digest(auth.password, self.password):
            return str(auth.login)
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.path.startswith("/api/"):
            if self._failures:
                status, retry_after = self._failures.pop(0)
                headers = {"Retry-After": retry_after} if retry_after is not None else {}
                return web.json_response(
                    {"error": {"message": "Injected failure", "detail": str(status)}, "status": "failure"},
                    status=status,
                    headers=headers,
                )
            user = self._user(request)
            if user is None:
                return _failure(401, "User Not Authenticated", "Required to provide Auth information")
            request[USER_KEY] = user
        return await handler(request)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "access_denied", "error_description": "access_denied"}, status=401)
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return web.json_response(
            {"access_token": token, "scope": "useraccount", "token_type": "Bearer", "expires_in": 1799}
        )

    def _table(self, request: web.Request) -> str:
        table = request.match_info["table"]
        if table not in self.tables:
            raise web.HTTPBadRequest(
                text='{"error":{"message":"Invalid table","detail":null},"status":"failure"}',
                content_type="application/json",
            )
        return table

    @staticmethod
    def _project(record: dict[str, Any], fields_param: str | None) -> dict[str, Any]:
        if not fields_param:
            return {k: v for k, v in record.items() if k not in JOURNAL_FIELDS}
        return {name: record.get(name, "") for name in fields_param.split(",")}

    async def _list(self, request: web.Request) -> web.Response:
        table = self._table(request)
        rows = list(self.tables[table].values())
        order_by: str | None = None
        for term in filter(None, request.query.get("sysparm_query", "").split("^")):
            if term.startswith("ORDERBY"):
                order_by = term[len("ORDERBY") :]
                continue
            name, sep, value = term.partition("=")
            if not sep:
                return _failure(400, "Unsupported query term", term)
            rows = [r for r in rows if str(r.get(name, "")) == value]
        if order_by:
            rows.sort(key=lambda r: str(r.get(order_by, "")))
        limit = int(request.query.get("sysparm_limit", "10000"))
        fields_param = request.query.get("sysparm_fields")
        return web.json_response({"result": [self._project(r, fields_param) for r in rows[:limit]]})

    def _apply(self, table: str, record: dict[str, Any], body: dict[str, Any], user: str) -> web.Response | None:
        closing = "6" if table == "incident" else "3"
        if str(body.get("state", "")) == closing:
            close_code = body.get("close_code", record.get("close_code"))
            close_notes = body.get("close_notes", record.get("close_notes"))
            if not close_code or not close_notes:
                return _failure(
                    403, "Operation Failed", "Data Policy Exception: Resolution code, Resolution notes are mandatory"
                )
        for name, value in body.items():
            if name in JOURNAL_FIELDS:
                if value:
                    self.journal.setdefault(record["sys_id"], []).append(JournalEntry(name, str(value), user, _now()))
                continue
            if name in {"sys_id", "number", "sys_created_on"}:
                continue
            if name == "state" and str(value) != record.get("state"):
                self.state_history.setdefault(record["sys_id"], []).append(str(value))
            record[name] = str(value)
        record["sys_updated_on"] = _now()
        record["sys_updated_by"] = user
        record["sys_mod_count"] = str(int(record.get("sys_mod_count", "0")) + 1)
        if table == "incident" and record.get("state") == "6" and not record.get("resolved_at"):
            record["resolved_at"] = _now()
        return None

    async def _create(self, request: web.Request) -> web.Response:
        table = self._table(request)
        body = await request.json()
        if not isinstance(body, dict):
            return _failure(400, "Exception while reading request", "The payload is not valid JSON.")
        prefix, _ = TABLE_PREFIX[table]
        number = f"{prefix}{self._counters[table]:07d}"
        self._counters[table] += 1
        record: dict[str, Any] = {
            "sys_id": secrets.token_hex(16),
            "number": number,
            "state": INITIAL_STATE[table],
            "sys_created_on": _now(),
            "sys_created_by": request[USER_KEY],
            "sys_mod_count": "-1",
        }
        problem = self._apply(table, record, body, request[USER_KEY])
        if problem is not None:
            return problem
        self.tables[table][record["sys_id"]] = record
        return web.json_response(
            {"result": self._project(record, request.query.get("sysparm_fields"))},
            status=201,
            headers={"Location": f"{self.base_url}/api/now/table/{table}/{record['sys_id']}"},
        )

    def _get_record(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        table = self._table(request)
        record = self.tables[table].get(request.match_info["sys_id"])
        if record is None:
            raise web.HTTPNotFound(
                text='{"error":{"message":"No Record found","detail":"Record doesn\'t exist or ACL restricts the '
                'record retrieval"},"status":"failure"}',
                content_type="application/json",
            )
        return table, record

    async def _read(self, request: web.Request) -> web.Response:
        _, record = self._get_record(request)
        return web.json_response({"result": self._project(record, request.query.get("sysparm_fields"))})

    async def _modify(self, request: web.Request) -> web.Response:
        table, record = self._get_record(request)
        body = await request.json()
        if not isinstance(body, dict):
            return _failure(400, "Exception while reading request", "The payload is not valid JSON.")
        problem = self._apply(table, record, body, request[USER_KEY])
        if problem is not None:
            return problem
        return web.json_response({"result": self._project(record, request.query.get("sysparm_fields"))})

    async def ticket_side_update(
        self, sys_id: str, *, state: str | None = None, comment: str | None = None, user: str = "beth.anglin"
    ) -> int | None:
        """Change an incident as a ServiceNow user would; POST the business rule's message if configured.

        Returns the webhook response status, or None when no webhook URL is set.
        """
        record = self.tables["incident"][sys_id]
        body: dict[str, Any] = {}
        if state is not None:
            body["state"] = state
            if state == "6":
                body.setdefault("close_code", "Solution provided")
                body.setdefault("close_notes", "Resolved by the service desk")
        if comment is not None:
            body["comments"] = comment
        problem = self._apply("incident", record, body, user)
        assert problem is None
        if self.webhook_url is None:
            return None
        journal = ""
        if comment is not None:
            journal = f"{record['sys_updated_on']} - {user} (Additional comments)\n{comment}\n\n"
        message = {
            "table": "incident",
            "sys_id": sys_id,
            "number": record["number"],
            "state": record["state"],
            "correlation_id": record.get("correlation_id", ""),
            "comments": journal,
            "work_notes": "",
            "sys_updated_by": user,
            "sys_updated_on": record["sys_updated_on"],
        }
        raw = json.dumps(message).encode()
        headers = {"Content-Type": "application/json", **(self.webhook_signer(raw) if self.webhook_signer else {})}
        async with aiohttp.ClientSession() as session, session.post(self.webhook_url, data=raw, headers=headers) as r:
            return r.status

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/oauth_token.do", self._token)
        app.router.add_get("/api/now/table/{table}", self._list)
        app.router.add_post("/api/now/table/{table}", self._create)
        app.router.add_get("/api/now/table/{table}/{sys_id}", self._read)
        app.router.add_patch("/api/now/table/{table}/{sys_id}", self._modify)
        app.router.add_put("/api/now/table/{table}/{sys_id}", self._modify)
        return app


@asynccontextmanager
async def start_servicenow(fake: FakeServiceNow | None = None) -> AsyncIterator[FakeServiceNow]:
    """Serve a fake ServiceNow on 127.0.0.1 on a free port; `fake.base_url` is its URL."""
    fake = fake or FakeServiceNow()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.base_url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
