"""GET /v1/metrics/incidents: the response times and shares the executive view shows, from the incident tables."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acso_incident_response.app import create_app
from acso_incident_response.metrics import incident_metrics
from acso_incident_response.settings import Settings
from acso_shared.web.keys import RUNTIME
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# A window of its own, far from the incidents other specs open "now".
NOW = datetime(2091, 3, 10, 12, 0, tzinfo=UTC)


async def _incident(db: Any, *, opened: datetime, detect_s: int, verdict: str, account: str, **times: Any) -> str:
    incident_id = f"inc-metrics-{uuid.uuid4().hex[:10]}"
    await db.execute(
        """
        INSERT INTO ir_incidents (id, title, status, severity, verdict, finding_type, account_id, fingerprint,
                                  first_seen, last_seen, created_at, contained_at)
        VALUES ($1, 'metrics spec', $2, 'high', $3, 'Custom:Test/Metrics', $4, $1, $5, $5, $6, $7)
        """,
        incident_id,
        times.get("status", "triaged"),
        verdict,
        account,
        opened - timedelta(seconds=detect_s),
        opened,
        times.get("contained_at"),
    )
    return incident_id


async def test_response_times_shares_and_top_accounts_come_from_the_incidents_of_the_window(stack: TestStack) -> None:
    app = create_app(stack.service_settings(Settings))
    async with running(app) as client:
        db = app[RUNTIME].db
        opened = NOW - timedelta(days=2)
        # Given three incidents in the window: detected 60 s and 120 s and 180 s after their first alert,
        first = await _incident(
            db,
            opened=opened,
            detect_s=60,
            verdict="malicious",
            account="111111111111",
            contained_at=opened + timedelta(minutes=10),
            status="contained",
        )
        second = await _incident(db, opened=opened, detect_s=120, verdict="suspicious", account="111111111111")
        await _incident(db, opened=opened, detect_s=180, verdict="benign", account="222222222222")
        # and one opened before the 7-day window, which counts only for the 30 days.
        await _incident(db, opened=NOW - timedelta(days=20), detect_s=600, verdict="malicious", account="333333333333")
        # A person acts on the first after 5 minutes (entries by ACSO and its agents do not count)
        # and comments on the second after 3.
        await db.execute(
            "INSERT INTO ir_timeline (incident_id, at, kind, actor, summary) VALUES "
            "($1, $2, 'planned', 'acso', 'planned'), ($1, $2, 'triage', 'threat_hunter', 'malicious'), "
            "($1, $3, 'approval', 'alice', 'approved')",
            first,
            opened + timedelta(minutes=1),
            opened + timedelta(minutes=5),
        )
        await db.execute(
            "INSERT INTO ir_comments (incident_id, author, text, created_at) VALUES ($1, 'bob', 'looking', $2)",
            second,
            opened + timedelta(minutes=3),
        )
        await db.execute(
            "INSERT INTO ir_actions (id, incident_id, playbook, step, seq, action_type, target, risk, status) "
            "VALUES ($1, $2, 'p', 's', 1, 'ec2.quarantine', 'i-0metrics0000000001', 'high', 'succeeded')",
            f"act-{uuid.uuid4().hex[:10]}",
            first,
        )

        week = await incident_metrics(db, 7, now=NOW)
        month = await incident_metrics(db, 30, now=NOW)

        # Then the week counts three incidents, their mean detection time, the acknowledgements and containment
        assert week.opened == 3
        assert week.mean_time_to_detect_s == pytest.approx(120.0)
        assert (week.acknowledged, week.mean_time_to_acknowledge_s) == (2, pytest.approx(240.0))
        assert week.mean_time_to_contain_s == pytest.approx(600.0)
        assert (week.contained, week.needing_containment, week.contained_share) == (1, 2, 0.5)
        assert [(r.key, r.incidents) for r in week.top_accounts] == [("111111111111", 2), ("222222222222", 1)]
        assert [(r.key, r.incidents) for r in week.top_resources] == [("i-0metrics0000000001", 1)]
        # and the 30 days add the older one.
        assert (month.opened, month.mean_time_to_detect_s) == (4, pytest.approx(240.0))
        assert month.open_by_severity["high"] >= 4

        # Over HTTP: any role reads it, and a bad window is a 400.
        response = await client.get("/v1/metrics/incidents?days=30", headers=stack.auth("executive"))
        assert response.status == 200
        assert json.loads(await response.text())["days"] == 30
        bad = await client.get("/v1/metrics/incidents?days=0", headers=stack.auth("executive"))
        assert bad.status == 400
        assert (await bad.json())["error"]["code"] == "invalid_query"
