"""Response metrics for the executive view: how fast incidents are detected, acknowledged and contained.

`GET /v1/metrics/incidents?days=7` reads over the incidents opened in the last `days` days:
- time to detect: from the first alert's occurrence (`first_seen`) to the incident opening in ACSO;
- time to acknowledge: from the opening to the first thing a person did on it (a timeline entry by
  anyone but ACSO and its agents: a status or assignee change, an approval decision, an ITSM update) or
  their first comment, whichever came first;
- time to contain: from the opening to `contained_at`;
- the contained share: contained incidents among those whose verdict called for a response (not benign);
- the accounts and resources (targets of response actions) in the most incidents.
Open incidents by severity are counted over every incident that is not closed, whatever its age.
All the SQL of this read is here; it only reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from acso_shared.db.database import Database
from acso_shared.resources import Agent
from acso_shared.web.api import ApiRouter, json_response, parse_query
from acso_shared.web.keys import RUNTIME

# ACSO itself and its agents write timeline entries too (triage is "threat_hunter"): not acknowledgements.
SYSTEM_ACTORS: Final = ["acso", *(agent.value for agent in Agent)]
TOP_N: Final = 5

router = ApiRouter("metrics")


class MetricsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=7, ge=1, le=365, description="the window: incidents opened in the last `days` days")


class Ranked(BaseModel):
    key: str
    incidents: int


class IncidentMetrics(BaseModel):
    days: int
    since: datetime
    opened: int = Field(description="incidents opened in the window")
    open_by_severity: dict[str, int] = Field(description="incidents not closed, by severity (any age)")
    mean_time_to_detect_s: float | None
    mean_time_to_acknowledge_s: float | None
    mean_time_to_contain_s: float | None
    acknowledged: int
    contained: int
    needing_containment: int = Field(description="incidents of the window whose verdict is not benign")
    contained_share: float | None = Field(description="contained / needing_containment, null when none needed it")
    top_accounts: list[Ranked]
    top_resources: list[Ranked]


_WINDOW_SQL: Final = """
WITH w AS (SELECT * FROM ir_incidents WHERE created_at >= $1 AND created_at < $3),
acks AS (
    SELECT w.id, LEAST(
        (SELECT min(t.at) FROM ir_timeline t WHERE t.incident_id = w.id AND t.actor <> ALL($2::text[])),
        (SELECT min(c.created_at) FROM ir_comments c WHERE c.incident_id = w.id AND c.author <> ALL($2::text[]))
    ) AS acked_at
    FROM w
)
SELECT
    count(*) AS opened,
    avg(extract(epoch FROM w.created_at - w.first_seen)) FILTER (WHERE w.created_at >= w.first_seen) AS ttd,
    avg(extract(epoch FROM a.acked_at - w.created_at)) FILTER (WHERE a.acked_at IS NOT NULL) AS tta,
    count(a.acked_at) AS acknowledged,
    avg(extract(epoch FROM w.contained_at - w.created_at)) FILTER (WHERE w.contained_at IS NOT NULL) AS ttc,
    count(*) FILTER (WHERE w.contained_at IS NOT NULL AND w.verdict <> 'benign') AS contained,
    count(*) FILTER (WHERE w.verdict <> 'benign') AS needing
FROM w JOIN acks a ON a.id = w.id
"""

_OPEN_SQL: Final = "SELECT severity, count(*) AS n FROM ir_incidents WHERE status <> 'closed' GROUP BY severity"

_TOP_ACCOUNTS_SQL: Final = """
SELECT account_id AS key, count(*) AS n FROM ir_incidents
WHERE created_at >= $1 AND created_at < $3 AND account_id IS NOT NULL
GROUP BY account_id ORDER BY n DESC, account_id LIMIT $2
"""

_TOP_RESOURCES_SQL: Final = """
SELECT a.target AS key, count(DISTINCT a.incident_id) AS n
FROM ir_actions a JOIN ir_incidents i ON i.id = a.incident_id
WHERE i.created_at >= $1 AND i.created_at < $3
GROUP BY a.target ORDER BY n DESC, a.target LIMIT $2
"""


def _seconds(value: object) -> float | None:
    return None if value is None else round(float(str(value)), 1)


async def incident_metrics(db: Database, days: int, *, now: datetime | None = None) -> IncidentMetrics:
    """The metrics of the incidents opened in the `days` days before `now`."""
    until = now or datetime.now(UTC)
    since = until - timedelta(days=days)
    window = await db.fetchrow(_WINDOW_SQL, since, SYSTEM_ACTORS, until)
    assert window is not None  # an aggregate always returns one row
    open_rows = await db.fetch(_OPEN_SQL)
    accounts = await db.fetch(_TOP_ACCOUNTS_SQL, since, TOP_N, until)
    resources = await db.fetch(_TOP_RESOURCES_SQL, since, TOP_N, until)
    needing = int(window["needing"])
    contained = int(window["contained"])
    return IncidentMetrics(
        days=days,
        since=since,
        opened=int(window["opened"]),
        open_by_severity={r["severity"]: int(r["n"]) for r in open_rows},
        mean_time_to_detect_s=_seconds(window["ttd"]),
        mean_time_to_acknowledge_s=_seconds(window["tta"]),
        mean_time_to_contain_s=_seconds(window["ttc"]),
        acknowledged=int(window["acknowledged"]),
        contained=contained,
        needing_containment=needing,
        contained_share=round(contained / needing, 4) if needing else None,
        top_accounts=[Ranked(key=r["key"], incidents=int(r["n"])) for r in accounts],
        top_resources=[Ranked(key=r["key"], incidents=int(r["n"])) for r in resources],
    )


@router.route(
    "GET",
    "/v1/metrics/incidents",
    summary="Detection, acknowledgement and containment times, contained share, most affected accounts and resources",
    query=MetricsQuery,
    response=IncidentMetrics,
    errors=(400,),
)
async def get_incident_metrics(request: web.Request) -> web.Response:
    query = parse_query(request, MetricsQuery)
    return json_response(await incident_metrics(request.app[RUNTIME].db, query.days))
