"""The one permission matrix: every route, who may call it, and which stream events each may read.

Each route names a permission (`incidents.close`) and lists the roles and machine scopes that hold
it. Everything else is derived from this table: `authorize`, the permission list shown by
`GET /v1/me`, the WebSocket event filter and the README table. A route that is not declared here
is denied to everybody (fail closed); only the health and OpenAPI endpoints are public.

Decisions beyond ARCHITECTURE.md section 5:
- Reading is open to every role, except the DLQ (message bodies may carry raw alert data:
  admin and it_operator, who replay it) and cost data (business data: executive, it_operator,
  analyst, admin).
- Changing detection (rules, intel imports) is a responder task; analysts read, comment and hunt.
- Executives never mutate anything; cost imports belong to it_operator and admin.
- Approving an operation is separate from starting it; the four-eyes check (requester is not the
  approver) belongs to the operations service, which knows who requested it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

from acso_shared.auth.models import AuthMethod, Principal, PrincipalKind, Role, Scope
from acso_shared.errors import Forbidden


class Method(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


@dataclass(frozen=True)
class Rule:
    """Who may call one route (method + aiohttp path template)."""

    method: Method
    path: str
    permission: str
    roles: frozenset[Role] = frozenset()
    scopes: frozenset[Scope] = frozenset()
    auth: AuthMethod = AuthMethod.BEARER
    # True for routes every authenticated principal may call (identity, the event stream).
    any_principal: bool = False

    @property
    def mutating(self) -> bool:
        """Whether the audit log must record calls to this route.

        `POST /v1/intel/match` is a POST only because it carries a body of observables.
        """
        return self.method is not Method.GET and self.permission not in _READ_ONLY_POSTS


_READ_ONLY_POSTS: Final = frozenset({"intel.match"})

EVERYONE: Final = frozenset(Role)
COST_READERS: Final = frozenset({Role.EXECUTIVE, Role.IT_OPERATOR, Role.ANALYST, Role.ADMIN})
REPORT_READERS: Final = frozenset({Role.EXECUTIVE, Role.ANALYST, Role.RESPONDER, Role.ADMIN})
COMMENTERS: Final = frozenset({Role.ANALYST, Role.RESPONDER, Role.IT_OPERATOR, Role.ADMIN})
HUNTERS: Final = frozenset({Role.ANALYST, Role.RESPONDER, Role.ADMIN})
RESPONDERS: Final = frozenset({Role.RESPONDER, Role.ADMIN})
OPERATORS: Final = frozenset({Role.IT_OPERATOR, Role.ADMIN})
ADMINS: Final = frozenset({Role.ADMIN})
MACHINE_READ: Final = frozenset({Scope.READ})


def _r(
    method: Method,
    path: str,
    permission: str,
    roles: frozenset[Role] = frozenset(),
    scopes: frozenset[Scope] = frozenset(),
    *,
    auth: AuthMethod = AuthMethod.BEARER,
    any_principal: bool = False,
) -> Rule:
    return Rule(method, path, permission, roles, scopes, auth, any_principal)


G, P, PA = Method.GET, Method.POST, Method.PATCH

MATRIX: Final[tuple[Rule, ...]] = (
    _r(G, "/v1/me", "me.read", any_principal=True),
    _r(G, "/v1/stream", "stream.connect", any_principal=True),
    _r(G, "/v1/agents", "agents.read", EVERYONE),
    _r(G, "/v1/aws-calls", "agents.read", EVERYONE),
    _r(P, "/v1/agents/ping", "agents.ping", OPERATORS),
    _r(G, "/v1/dlq", "dlq.read", OPERATORS),
    _r(P, "/v1/dlq/{agent}/replay", "dlq.replay", ADMINS),
    _r(P, "/v1/alerts", "alerts.write", RESPONDERS, frozenset({Scope.ALERTS_WRITE})),
    _r(G, "/v1/alerts", "alerts.read", EVERYONE, MACHINE_READ),
    _r(G, "/v1/alerts/{id}", "alerts.read", EVERYONE, MACHINE_READ),
    _r(G, "/v1/workflows", "workflows.read", EVERYONE, MACHINE_READ),
    _r(G, "/v1/workflows/{id}", "workflows.read", EVERYONE, MACHINE_READ),
    _r(G, "/v1/incidents", "incidents.read", EVERYONE, MACHINE_READ),
    _r(G, "/v1/incidents/{id}", "incidents.read", EVERYONE, MACHINE_READ),
    _r(PA, "/v1/incidents/{id}", "incidents.write", RESPONDERS),
    _r(P, "/v1/incidents/{id}/comments", "incidents.comment", COMMENTERS),
    _r(P, "/v1/incidents/{id}/close", "incidents.close", RESPONDERS),
    _r(G, "/v1/incidents/{id}/actions", "actions.read", EVERYONE, MACHINE_READ),
    _r(P, "/v1/incidents/{id}/actions/{action_id}/revert", "actions.revert", RESPONDERS),
    _r(G, "/v1/approvals", "approvals.read", EVERYONE),
    _r(P, "/v1/approvals/{id}", "approvals.decide", RESPONDERS),
    _r(G, "/v1/metrics/incidents", "metrics.read", EVERYONE),
    _r(G, "/v1/intel/indicators", "intel.read", EVERYONE, MACHINE_READ),
    _r(P, "/v1/intel/imports", "intel.import", RESPONDERS),
    _r(G, "/v1/intel/imports/{id}", "intel.read", EVERYONE, MACHINE_READ),
    _r(P, "/v1/intel/match", "intel.match", EVERYONE, MACHINE_READ),
    _r(G, "/v1/intel/search", "intel.read", EVERYONE, MACHINE_READ),
    _r(G, "/v1/rules", "rules.read", EVERYONE),
    _r(P, "/v1/rules", "rules.write", RESPONDERS),
    _r(PA, "/v1/rules/{id}", "rules.write", RESPONDERS),
    _r(P, "/v1/rules/imports", "rules.write", RESPONDERS),
    _r(G, "/v1/rules/imports/{id}", "rules.read", EVERYONE),
    _r(P, "/v1/hunts", "hunts.run", HUNTERS),
    _r(G, "/v1/hunts/{id}", "hunts.read", EVERYONE),
    _r(P, "/v1/operations", "operations.run", OPERATORS),
    _r(G, "/v1/operations", "operations.read", EVERYONE),
    _r(G, "/v1/operations/{id}", "operations.read", EVERYONE),
    _r(P, "/v1/operations/{id}/approve", "operations.approve", OPERATORS),
    _r(P, "/v1/operations/{id}/reject", "operations.approve", OPERATORS),
    _r(G, "/v1/tickets", "tickets.read", EVERYONE, MACHINE_READ),
    _r(
        P,
        "/v1/webhooks/itsm/{system}",
        "webhooks.itsm",
        scopes=frozenset({Scope.WEBHOOKS_WRITE}),
        auth=AuthMethod.WEBHOOK_HMAC,
    ),
    _r(G, "/v1/costs/summary", "costs.read", COST_READERS),
    _r(G, "/v1/costs/anomalies", "costs.read", COST_READERS),
    _r(G, "/v1/costs/forecast", "costs.read", COST_READERS),
    _r(G, "/v1/costs/waste", "costs.read", COST_READERS),
    _r(P, "/v1/costs/imports", "costs.import", OPERATORS),
    _r(G, "/v1/costs/imports/{id}", "costs.read", COST_READERS),
    _r(G, "/v1/costs/incidents/{incident_id}", "costs.read", COST_READERS),
    _r(G, "/v1/reports/executive", "reports.read", REPORT_READERS),
    _r(P, "/v1/ws/connect", "ws.gateway", auth=AuthMethod.WEBHOOK_HMAC),
    _r(P, "/v1/ws/disconnect", "ws.gateway", auth=AuthMethod.WEBHOOK_HMAC),
    _r(P, "/v1/ws/message", "ws.gateway", auth=AuthMethod.WEBHOOK_HMAC),
)

PUBLIC_PATHS: Final = frozenset({"/healthz", "/readyz", "/openapi.json"})

# Stream events are named `<domain>.<what>` (e.g. `incident.opened`); reading one needs the
# permission that reads its domain over HTTP, so the stream never shows more than the API.
EVENT_PERMISSIONS: Final[dict[str, str]] = {
    "agent": "agents.read",
    "alert": "alerts.read",
    "workflow": "workflows.read",
    "incident": "incidents.read",
    "action": "actions.read",
    "approval": "approvals.read",
    "intel": "intel.read",
    "rule": "rules.read",
    "hunt": "hunts.read",
    "operation": "operations.read",
    "cost": "costs.read",
    "report": "reports.read",
    "dlq": "dlq.read",
}


def _build_index(rules: Iterable[Rule]) -> dict[tuple[Method, str], Rule]:
    index: dict[tuple[Method, str], Rule] = {}
    for rule in rules:
        key = (rule.method, rule.path)
        if key in index:
            raise ValueError(f"route declared twice: {rule.method} {rule.path}")
        if rule.auth is AuthMethod.WEBHOOK_HMAC and rule.roles:
            raise ValueError(f"webhook route grants roles: {rule.method} {rule.path}")
        index[key] = rule
    return index


_INDEX: Final = _build_index(MATRIX)


def _method(method: str) -> Method | None:
    upper = method.upper()
    # HEAD is a GET without a body; aiohttp registers it alongside every GET route.
    if upper == "HEAD":
        upper = "GET"
    return Method(upper) if upper in Method.__members__ else None


def is_public(method: str, path: str) -> bool:
    """Whether a request needs no authentication at all (health, readiness, the OpenAPI document)."""
    return _method(method) is Method.GET and path in PUBLIC_PATHS


def rule_for(method: str, path_template: str) -> Rule | None:
    """The declared rule for a route, or None when the route is not in the matrix."""
    verb = _method(method)
    return None if verb is None else _INDEX.get((verb, path_template))


def _allows(rule: Rule, principal: Principal) -> bool:
    if principal.auth_method is not rule.auth:
        return False
    if rule.any_principal:
        return True
    if principal.kind is PrincipalKind.MACHINE:
        # Scopes speak for integrations only: a user's token never gains rights from its scopes.
        return any(scope.value in principal.scopes for scope in rule.scopes)
    return bool(rule.roles & principal.roles)


def authorize(principal: Principal, method: str, path_template: str) -> Rule:
    """Allow the call or raise `Forbidden("forbidden")`; undeclared routes are always denied.

    `path_template` is the route's template as registered (`/v1/incidents/{id}`), never the
    concrete path, so identifiers in URLs cannot dodge the matrix. Returns the matched rule so the
    caller can tell whether to audit the request.
    """
    rule = rule_for(method, path_template)
    if rule is None or not _allows(rule, principal):
        raise Forbidden("forbidden", f"not allowed to {method.upper()} {path_template}")
    return rule


@lru_cache(maxsize=4096)
def _permission_set(principal: Principal) -> frozenset[str]:
    # The stream asks once per event and connection; principals are immutable, so cache.
    return frozenset(rule.permission for rule in MATRIX if _allows(rule, principal))


def permissions_for(principal: Principal) -> list[str]:
    """The sorted permission names the principal holds, as shown by `GET /v1/me`."""
    return sorted(_permission_set(principal))


def may_read_event(principal: Principal, event_kind: str) -> bool:
    """Whether a WebSocket client may receive an event of `event_kind` (`incident.opened`...).

    Unknown event domains are withheld from everybody.
    """
    domain = event_kind.split(".", 1)[0]
    permission = EVENT_PERMISSIONS.get(domain)
    return permission is not None and permission in _permission_set(principal)


def resolve_template(method: str, path: str) -> str | None:
    """Map a concrete path (`/v1/incidents/42/close`) to its declared template, or None.

    For callers that only see concrete paths, such as an API Gateway TOKEN authorizer. A
    placeholder matches exactly one non-empty segment; literal segments win over placeholders.
    """
    verb = _method(method)
    if verb is None:
        return None
    segments = path.rstrip("/").split("/") if path != "/" else [""]
    best: tuple[int, str] | None = None
    for rule in MATRIX:
        if rule.method is not verb:
            continue
        template = rule.path.split("/")
        if len(template) != len(segments):
            continue
        literal_hits = 0
        for want, got in zip(template, segments, strict=True):
            if want.startswith("{") and want.endswith("}"):
                if not got:
                    break
            elif want == got:
                literal_hits += 1
            else:
                break
        else:
            if best is None or literal_hits > best[0]:
                best = (literal_hits, rule.path)
    return None if best is None else best[1]


def render_markdown() -> str:
    """The matrix as a markdown table for the README (one row per route)."""
    roles = list(Role)
    head = ["Method", "Path", "Permission", *[r.value for r in roles], "Machine"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rule in MATRIX:
        if rule.any_principal:
            cells = ["any" for _ in roles]
            machine = "any"
        else:
            cells = ["yes" if role in rule.roles else "" for role in roles]
            machine = ", ".join(sorted(s.value for s in rule.scopes))
            if rule.auth is AuthMethod.WEBHOOK_HMAC:
                machine = f"HMAC webhook ({machine})"
        lines.append(f"| {rule.method} | `{rule.path}` | {rule.permission} | " + " | ".join([*cells, machine]) + " |")
    return "\n".join(lines) + "\n"
