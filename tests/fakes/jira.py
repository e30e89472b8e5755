"""A Jira Cloud site on 127.0.0.1: the REST v3 endpoints the adapter uses, with Jira's shapes.

- `POST /rest/api/3/issue` -> 201 `{"id", "key", "self"}`; 400 `{"errorMessages", "errors"}`
  when project/issuetype/summary are wrong or the description is not an ADF document;
- `GET /rest/api/3/issue/{key}` -> `{"id", "key", "self", "fields": {...}}`;
  `PUT` -> 204; `POST .../comment` (ADF body) -> 201 with the comment;
- `GET .../transitions` -> `{"transitions": [{"id", "name", "to": {status}}]}`;
  `POST .../transitions` `{"transition": {"id"}}` -> 204, 400 for an unknown transition;
- `POST /rest/api/3/search/jql` with `project = "X" AND labels = "Y" [ORDER BY ...]` ->
  `{"issues": [...], "isLast": true}`;
- Basic auth with email + API token, else 401.

Statuses (a simplified workflow where any status can move to any other): To Do (new),
In Progress (indeterminate), Done (done). `fail_next` injects 429/5xx; `ticket_side_transition`
and `ticket_side_comment` act as a Jira user and POST the admin webhook (`jira:issue_updated`
with a changelog, `comment_created`) signed `X-Hub-Signature: sha256=<hex>` to `webhook_url`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

STATUS_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
STATUSES = {
    "To Do": {"id": "10000", "name": "To Do", "category": "new"},
    "In Progress": {"id": "10001", "name": "In Progress", "category": "indeterminate"},
    "Done": {"id": "10002", "name": "Done", "category": "done"},
}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
_JQL = re.compile(
    r'^project\s*=\s*"?(?P<project>[A-Z][A-Z0-9_]*)"?\s+AND\s+labels\s*=\s*"?(?P<label>[^"\s]+)"?'
    r"(?:\s+ORDER\s+BY\s+\w+(?:\s+(?:ASC|DESC))?)?$",
    re.IGNORECASE,
)


def _jira_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000+0000"


def _errors(status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errorMessages": messages or [], "errors": errors or {}}, status=status)


def _is_adf(doc: Any) -> bool:
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        return False

    def ok(node: Any) -> bool:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            return False
        if node["type"] == "text":
            return isinstance(node.get("text"), str) and bool(node["text"])
        return all(ok(child) for child in node.get("content", []))

    return isinstance(doc.get("content"), list) and all(ok(c) for c in doc["content"])


def _status(name: str) -> dict[str, Any]:
    status = STATUSES[name]
    return {
        "id": status["id"],
        "name": status["name"],
        "statusCategory": STATUS_CATEGORIES[status["category"]],
    }


@dataclass
class FakeJira:
    """In-memory Jira Cloud. Create with `start_jira()`."""

    email: str = "acso-bot@example.com"
    api_token: str = "ATATT-fake-token"
    account_id: str = "5b10a2844c20165700ede21g"
    projects: tuple[str, ...] = ("SEC",)
    issue_types: tuple[str, ...] = ("Task", "Bug", "Incident")
    webhook_url: str | None = None
    webhook_secret: str = "jira-webhook-secret"
    base_url: str = ""
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    _failures: list[tuple[int, str | None]] = field(default_factory=list)
    _next_id: int = 10000
    _next_number: dict[str, int] = field(default_factory=dict)

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` API requests with `status` (and Retry-After if given)."""
        self._failures.extend([(status, retry_after)] * times)

    def issue(self, key: str) -> dict[str, Any]:
        """The stored issue."""
        return self.issues[key]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if self._failures:
            status, retry_after = self._failures.pop(0)
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return web.json_response(
                {"errorMessages": ["Injected failure"], "errors": {}}, status=status, headers=headers
            )
        try:
            auth = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            return _errors(401, ["You are not authenticated. Authentication required to perform this operation."])
        if not (
            secrets.compare_digest(auth.login, self.email) and secrets.compare_digest(auth.password, self.api_token)
        ):
            return _errors(401, ["You are not authenticated. Authentication required to perform this operation."])
        return await handler(request)

    def _issue_or_404(self, request: web.Request) -> dict[str, Any]:
        key = request.match_info["key"]
        issue = self.issues.get(key) or next((i for i in self.issues.values() if i["id"] == key), None)
        if issue is None:
            raise web.HTTPNotFound(
                text=json.dumps(
                    {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
                ),
                content_type="application/json",
            )
        return issue

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        fields = body.get("fields", {}) if isinstance(body, dict) else {}
        problems: dict[str, str] = {}
        project = (fields.get("project") or {}).get("key")
        if project not in self.projects:
            problems["project"] = "valid project is required"
        if (fields.get("issuetype") or {}).get("name") not in self.issue_types:
            problems["issuetype"] = "valid issue type is required"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            problems["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            problems["summary"] = "Summary must be less than 255 characters."
        if "description" in fields and not _is_adf(fields["description"]):
            problems["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        priority = (fields.get("priority") or {}).get("name", "Medium")
        if priority not in PRIORITIES:
            problems["priority"] = "Specify a valid priority"
        labels = fields.get("labels", [])
        if any(not isinstance(lbl, str) or " " in lbl for lbl in labels):
            problems["labels"] = "Labels cannot contain spaces"
        if problems:
            return _errors(400, errors=problems)
        project = str(project)
        self._next_id += 1
        number = self._next_number.get(project, 0) + 1
        self._next_number[project] = number
        key = f"{project}-{number}"
        issue = {
            "id": str(self._next_id),
            "key": key,
            "self": f"{self.base_url}/rest/api/3/issue/{self._next_id}",
            "fields": {
                "project": {"key": project},
                "issuetype": {"name": fields["issuetype"]["name"]},
                "summary": summary,
                "description": fields.get("description"),
                "priority": {"name": priority},
                "labels": list(labels),
                "status": _status("To Do"),
                "created": _jira_time(),
                "updated": _jira_time(),
            },
        }
        self.issues[key] = issue
        return web.json_response({"id": issue["id"], "key": key, "self": issue["self"]}, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        issue = self._issue_or_404(request)
        wanted = request.query.get("fields")
        fields = issue["fields"] if not wanted else {k: issue["fields"].get(k) for k in wanted.split(",")}
        return web.json_response({"id": issue["id"], "key": issue["key"], "self": issue["self"], "fields": fields})

    async def _edit(self, request: web.Request) -> web.Response:
        issue = self._issue_or_404(request)
        body = await request.json()
        fields = body.get("fields", {})
        if "description" in fields and not _is_adf(fields["description"]):
            return _errors(400, errors={"description": "Operation value must be an Atlassian Document"})
        if "priority" in fields and fields["priority"].get("name") not in PRIORITIES:
            return _errors(400, errors={"priority": "Specify a valid priority"})
        for name in ("summary", "description", "priority", "labels"):
            if name in fields:
                issue["fields"][name] = fields[name]
        issue["fields"]["updated"] = _jira_time()
        return web.Response(status=204)

    def _add_comment(self, issue: dict[str, Any], body: Any, author_id: str, author_name: str) -> dict[str, Any]:
        comment_id = str(10000 + sum(len(c) for c in self.comments.values()) + 1)
        comment = {
            "id": comment_id,
            "self": f"{issue['self']}/comment/{comment_id}",
            "author": {"accountId": author_id, "displayName": author_name},
            "body": body,
            "created": _jira_time(),
            "updated": _jira_time(),
        }
        self.comments.setdefault(issue["key"], []).append(comment)
        return comment

    async def _comment(self, request: web.Request) -> web.Response:
        issue = self._issue_or_404(request)
        body = await request.json()
        if not _is_adf(body.get("body")):
            return _errors(400, errors={"comment": "Comment body is not a valid Atlassian Document"})
        return web.json_response(self._add_comment(issue, body["body"], self.account_id, "ACSO"), status=201)

    async def _transitions(self, request: web.Request) -> web.Response:
        self._issue_or_404(request)
        return web.json_response(
            {
                "expand": "transitions",
                "transitions": [
                    {"id": tid, "name": name, "to": _status(name), "hasScreen": False, "isGlobal": True}
                    for tid, name in TRANSITIONS.items()
                ],
            }
        )

    async def _transition(self, request: web.Request) -> web.Response:
        issue = self._issue_or_404(request)
        body = await request.json()
        tid = str((body.get("transition") or {}).get("id", ""))
        if tid not in TRANSITIONS:
            return _errors(400, ["Transition id '" + tid + "' is not valid for this issue."])
        issue["fields"]["status"] = _status(TRANSITIONS[tid])
        issue["fields"]["updated"] = _jira_time()
        return web.Response(status=204)

    async def _search(self, request: web.Request) -> web.Response:
        body = await request.json()
        match = _JQL.match(str(body.get("jql", "")).strip())
        if match is None:
            return _errors(400, ["Error in the JQL Query: the fake supports 'project = X AND labels = Y'."])
        found = [
            i
            for i in self.issues.values()
            if i["fields"]["project"]["key"] == match["project"] and match["label"] in i["fields"]["labels"]
        ]
        found.sort(key=lambda i: int(i["id"]))
        wanted = body.get("fields") or []
        issues = [
            {"id": i["id"], "key": i["key"], "self": i["self"], "fields": {k: i["fields"].get(k) for k in wanted}}
            for i in found[: int(body.get("maxResults", 50))]
        ]
        return web.json_response({"issues": issues, "isLast": True})

    async def _deliver(self, payload: dict[str, Any]) -> int | None:
        if self.webhook_url is None:
            return None
        raw = json.dumps(payload).encode()
        digest = hmac.new(self.webhook_secret.encode(), raw, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature": f"sha256={digest}",
            "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
        }
        async with aiohttp.ClientSession() as session, session.post(self.webhook_url, data=raw, headers=headers) as r:
            return r.status

    async def ticket_side_transition(
        self, key: str, status_name: str, user: tuple[str, str] = ("557058:f58131cb", "Beth Anglin")
    ) -> int | None:
        """Move an issue as a Jira user; deliver `jira:issue_updated`. Returns the webhook status."""
        issue = self.issues[key]
        before = issue["fields"]["status"]
        issue["fields"]["status"] = _status(status_name)
        issue["fields"]["updated"] = _jira_time()
        return await self._deliver(
            {
                "timestamp": int(time.time() * 1000),
                "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": "issue_generic",
                "user": {"accountId": user[0], "displayName": user[1]},
                "issue": issue,
                "changelog": {
                    "id": str(uuid.uuid4().int % 10**6),
                    "items": [
                        {
                            "field": "status",
                            "fieldtype": "jira",
                            "fieldId": "status",
                            "from": before["id"],
                            "fromString": before["name"],
                            "to": issue["fields"]["status"]["id"],
                            "toString": status_name,
                        }
                    ],
                },
            }
        )

    async def ticket_side_comment(
        self, key: str, text: str, user: tuple[str, str] = ("557058:f58131cb", "Beth Anglin")
    ) -> int | None:
        """Comment as a Jira user; deliver `comment_created`. Returns the webhook status."""
        issue = self.issues[key]
        body = {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
        }
        comment = self._add_comment(issue, body, user[0], user[1])
        return await self._deliver(
            {
                "timestamp": int(time.time() * 1000),
                "webhookEvent": "comment_created",
                "comment": comment,
                "issue": {"id": issue["id"], "key": issue["key"], "self": issue["self"], "fields": issue["fields"]},
            }
        )

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/rest/api/3/issue", self._create)
        app.router.add_get("/rest/api/3/issue/{key}", self._get)
        app.router.add_put("/rest/api/3/issue/{key}", self._edit)
        app.router.add_post("/rest/api/3/issue/{key}/comment", self._comment)
        app.router.add_get("/rest/api/3/issue/{key}/transitions", self._transitions)
        app.router.add_post("/rest/api/3/issue/{key}/transitions", self._transition)
        app.router.add_post("/rest/api/3/search/jql", self._search)
        return app


@asynccontextmanager
async def start_jira(fake: FakeJira | None = None) -> AsyncIterator[FakeJira]:
    """Serve a fake Jira Cloud on 127.0.0.1 on a free port; `fake.base_url` is its URL."""
    fake = fake or FakeJira()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()
