"""Alert ingestion: normalise, deduplicate and correlate into incidents, start one workflow per incident.

A batch is all or nothing: it is normalised in full first (any bad item rejects the whole body),
then recorded in one transaction. Correlation takes PostgreSQL advisory locks on the alert's
fingerprint and correlation keys, so two concurrent copies of a new threat still open one
incident. Messages go out only after the commit; a crash in between leaves `pending` steps that
the workflow engine's sweeper sends.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg

from acso_shared.alerts.fingerprint import correlation_keys, fingerprint
from acso_shared.alerts.models import SEVERITY_ORDER, AlertState, NormalizedAlert
from acso_shared.alerts.normalize import normalize_payload
from acso_shared.contracts import COST_FINDINGS, CostFinding, CostFindings
from acso_shared.db import Database
from acso_shared.errors import NotFound
from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_supervisor.stream import EventHub
from acso_supervisor.workflows import WorkflowEngine

log = get_logger("acso.supervisor.ingest")

Outcome = Literal["new_incident", "deduplicated", "correlated", "duplicate", "resolved", "ignored"]
_COST_SEVERITY: dict[str, Literal["low", "medium", "high", "critical"]] = {
    "unknown": "low",
    "informational": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
    "fatal": "critical",
}


@dataclass(frozen=True)
class IngestedAlert:
    """What became of one alert: `new_incident` and `correlated` alerts start a workflow of their own;
    `deduplicated` (same detection, resource and actor) and `duplicate` (the same finding again) fold;
    `resolved` resolved a known alert; `ignored` resolved nothing (a passed check nobody saw fail)."""

    alert_id: str
    incident_id: str | None
    outcome: Outcome
    workflow_id: str | None
    reason: str | None = None


@dataclass(frozen=True)
class Known:
    """An alert already recorded: its incident and status (read once per batch)."""

    incident_id: str
    status: str


def _lock_id(key: str) -> int:
    # A stable signed 64-bit id per key for pg_advisory_xact_lock.
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class AlertIngestor:
    def __init__(
        self,
        db: Database,
        engine: WorkflowEngine,
        hub: EventHub,
        *,
        window: timedelta,
        max_batch: int,
        send_task: Callable[[Agent, Envelope], Awaitable[str]] | None = None,
        cross_account: bool = False,
    ) -> None:
        self._send_task = send_task
        self._cross_account = cross_account
        self._db = db
        self._engine = engine
        self._hub = hub
        self._window = window
        self._max_batch = max_batch

    async def list_alerts(self, *, incident_id: uuid.UUID | None, limit: int) -> list[dict[str, Any]]:
        if incident_id:
            rows = await self._db.fetch(
                """
                SELECT alert_id, incident_id, fingerprint, source, source_format, type, severity, title, occurred_at,
                       received_at, last_received_at, occurrences, outcome, status, status_reason, account_id
                FROM alerts WHERE incident_id = $1 ORDER BY received_at DESC LIMIT $2
                """,
                incident_id,
                limit,
            )
        else:
            rows = await self._db.fetch(
                """
                SELECT alert_id, incident_id, fingerprint, source, source_format, type, severity, title, occurred_at,
                       received_at, last_received_at, occurrences, outcome, status, status_reason, account_id
                FROM alerts ORDER BY received_at DESC LIMIT $1
                """,
                limit,
            )
        return [_alert_row(row) for row in rows]

    async def get_alert(self, alert_id: str) -> dict[str, Any]:
        try:
            key = uuid.UUID(alert_id)
        except ValueError as err:
            raise NotFound("alert_not_found", "no such alert") from err
        row = await self._db.fetchrow(
            """
            SELECT alert_id, incident_id, fingerprint, source, source_format, type, severity, title, occurred_at,
                   received_at, last_received_at, occurrences, outcome, status, status_reason, account_id,
                   normalized, evidence
            FROM alerts WHERE alert_id = $1
            """,
            key,
        )
        if row is None:
            raise NotFound("alert_not_found", "no such alert")
        return _alert_row(row)

    def normalize(self, body: Any) -> list[NormalizedAlert]:
        return normalize_payload(body, max_items=self._max_batch, received_at=datetime.now(UTC))

    async def ingest(
        self, alerts: list[NormalizedAlert], *, evidence: dict[str, Any] | None = None
    ) -> list[IngestedAlert]:
        """Record a normalised batch and start the workflows it needs.

        `evidence` maps a source alert id to records that support it (kept with the alert).
        """
        results: list[IngestedAlert] = []
        pivots = [
            (fingerprint(alert), sorted(correlation_keys(alert, cross_account=self._cross_account))) for alert in alerts
        ]
        # Every lock of the batch in one round trip, in one global order: taking them alert by
        # alert let two concurrent batches lock the same keys in opposite orders and deadlock.
        lock_ids = sorted({_lock_id(key) for fp, keys in pivots for key in (f"fp:{fp}", *keys)})
        async with self._db.transaction() as conn:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
                lock_ids,
            )
            # The batch's known alerts in one round trip (locked, as the per-alert read locked them);
            # `known` then follows what the batch itself records, so a repeat within it is a duplicate.
            rows = await conn.fetch(
                "SELECT alert_id, incident_id, status FROM alerts WHERE alert_id = ANY($1::uuid[]) FOR UPDATE",
                sorted({alert.alert_id for alert in alerts}),
            )
            known: dict[str, Known] = {str(r["alert_id"]): Known(str(r["incident_id"]), r["status"]) for r in rows}
            for alert, (fp, keys) in zip(alerts, pivots, strict=True):
                result = await self._record(
                    conn, alert, fp, keys, (evidence or {}).get(alert.source_id or "", []), known
                )
                results.append(result)
        for workflow_id in [r.workflow_id for r in results if r.workflow_id]:
            await self._engine.dispatch_pending(workflow_id)
        folded: dict[str, list[NormalizedAlert]] = {}
        for alert, result in zip(alerts, results, strict=True):
            if result.incident_id and result.outcome in ("deduplicated", "duplicate"):
                folded.setdefault(result.incident_id, []).append(alert)
        for incident_id, members in folded.items():
            await self._engine.notify_alerts_updated(incident_id, members)
        for result in results:
            if result.outcome == "resolved" and result.incident_id:
                await self._engine.notify_alert_resolved(
                    result.incident_id, result.alert_id, result.reason or "resolved at the source"
                )
        await self._forward_to_cost_link(alerts, results)
        for result in results:
            self._hub.publish(
                "alert.received",
                {
                    "alert_id": result.alert_id,
                    "incident_id": result.incident_id,
                    "outcome": result.outcome,
                    **({"reason": result.reason} if result.reason else {}),
                },
            )
        return results

    async def _forward_to_cost_link(self, alerts: list[NormalizedAlert], results: list[IngestedAlert]) -> None:
        """New security findings go to financial intelligence, which links them with compute anomalies.

        Its own cost alerts are not sent back (that would loop). Best effort: the cost link must never
        fail ingestion.
        """
        findings = [
            CostFinding(
                id=str(alert.alert_id),
                title=alert.title,
                region=alert.region,
                account=alert.account_id,
                observed_at=alert.occurred_at,
                severity=_COST_SEVERITY[alert.severity.label.value],
                resource_ids=[r.id for r in alert.resources],
            )
            for alert, result in zip(alerts, results, strict=True)
            if result.outcome == "new_incident" and alert.region and not alert.source.startswith("acso.financial")
        ]
        if not findings or self._send_task is None:
            return
        envelope = Envelope.new(
            kind=COST_FINDINGS,
            sender=Agent.SUPERVISOR.value,
            payload=CostFindings(findings=findings).model_dump(mode="json"),
            idempotency_key=f"{COST_FINDINGS}:" + ",".join(sorted(f.id for f in findings))[:400],
        )
        try:
            await self._send_task(Agent.FINANCIAL_INTELLIGENCE, envelope)
        except Exception as err:
            log.warning("cost_findings_not_sent", error=str(err), findings=len(findings))

    async def _record(
        self,
        conn: asyncpg.Connection,
        alert: NormalizedAlert,
        fp: str,
        keys: list[str],
        evidence: list[Any],
        known: dict[str, Known],
    ) -> IngestedAlert:
        """Record one alert of a batch whose advisory locks the caller already holds.

        `known` holds the batch's alerts already recorded (read once for the batch); it is kept up
        to date with what this alert changes.
        """
        alert_id = str(alert.alert_id)
        now = datetime.now(UTC)
        existing = known.get(alert_id)
        if alert.state is AlertState.RESOLVED:
            result = await self._resolve(conn, alert, fp, existing, now)
            if result.incident_id and result.outcome in ("resolved", "duplicate"):
                known[result.alert_id] = Known(result.incident_id, "resolved")
            return result
        if existing is not None:
            # The very same finding again (a redelivery, or the source's update of it): count it.
            known_incident = existing.incident_id
            known[alert_id] = Known(known_incident, "active")
            await conn.execute(
                "UPDATE alerts SET occurrences = occurrences + 1, last_received_at = $2, status = 'active',"
                " status_reason = NULL, resolved_at = NULL WHERE alert_id = $1",
                alert.alert_id,
                now,
            )
            await self._fold(conn, known_incident, alert, now, keys)
            return IngestedAlert(alert_id, known_incident, "duplicate", None)

        since = now - self._window
        incident_id: str | None = None
        outcome: Outcome = "new_incident"
        row = await conn.fetchrow(
            """
            SELECT a.incident_id FROM alerts a JOIN incident_groups g USING (incident_id)
            WHERE a.fingerprint = $1 AND g.status = 'open' AND g.last_activity >= $2
            ORDER BY g.last_activity DESC LIMIT 1
            """,
            fp,
            since,
        )
        if row is not None:
            incident_id, outcome = str(row["incident_id"]), "deduplicated"
        elif keys:
            row = await conn.fetchrow(
                """
                SELECT k.incident_id FROM correlation_keys k JOIN incident_groups g USING (incident_id)
                WHERE k.key = ANY($1::text[]) AND k.last_seen >= $2 AND g.status = 'open'
                ORDER BY g.last_activity DESC LIMIT 1
                """,
                keys,
                since,
            )
            if row is not None:
                incident_id, outcome = str(row["incident_id"]), "correlated"

        if incident_id is None:
            incident_id = str(uuid.uuid4())
            await conn.execute(
                """
                INSERT INTO incident_groups
                    (incident_id, severity, title, alert_count, first_seen, last_seen, last_activity)
                VALUES ($1, $2, $3, 0, $4, $5, $6)
                """,
                uuid.UUID(incident_id),
                alert.severity.label.value,
                alert.title,
                alert.first_seen,
                alert.last_seen,
                now,
            )
        await conn.execute(
            """
            INSERT INTO alerts (alert_id, incident_id, fingerprint, source, source_format, type, severity, title,
                                occurred_at, received_at, last_received_at, outcome, normalized, evidence, account_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14)
            """,
            alert.alert_id,
            uuid.UUID(incident_id),
            fp,
            alert.source,
            alert.source_format.value,
            alert.type,
            alert.severity.label.value,
            alert.title,
            alert.occurred_at,
            now,
            outcome,
            alert.model_dump(mode="json"),
            evidence if isinstance(evidence, list) else [evidence],
            alert.account_id,
        )
        known[alert_id] = Known(incident_id, "active")
        await self._fold(conn, incident_id, alert, now, keys)
        workflow_id: str | None = None
        if outcome in ("new_incident", "correlated"):
            # A distinct detection gets its own triage and response, inside the incident it joined:
            # grouping must never leave a second compromised resource without containment.
            workflow_id = await self._engine.create_alert_workflow(conn, incident_id, alert)
        return IngestedAlert(alert_id, incident_id, outcome, workflow_id)

    async def _resolve(
        self,
        conn: asyncpg.Connection,
        alert: NormalizedAlert,
        fp: str,
        existing: Known | None,
        now: datetime,
    ) -> IngestedAlert:
        """A passed, archived or resolved result: it resolves the alert it is about, or opens nothing."""
        alert_id = str(alert.alert_id)
        reason = alert.state_reason or "resolved at the source"
        if existing is None:
            # The same detection on the same resource under another id (a re-evaluated control).
            match = await conn.fetchrow(
                """
                SELECT a.alert_id, a.incident_id, a.status FROM alerts a JOIN incident_groups g USING (incident_id)
                WHERE a.fingerprint = $1 AND g.status = 'open' AND a.status = 'active'
                ORDER BY a.last_received_at DESC LIMIT 1 FOR UPDATE OF a
                """,
                fp,
            )
            if match is None:
                return IngestedAlert(alert_id, None, "ignored", None, reason=f"{reason}: no open alert to resolve")
            alert_id, existing = str(match["alert_id"]), Known(str(match["incident_id"]), match["status"])
        incident_id = existing.incident_id
        await conn.execute(
            "UPDATE alerts SET occurrences = occurrences + 1, last_received_at = $2,"
            " status = 'resolved', status_reason = $3, resolved_at = COALESCE(resolved_at, $2) WHERE alert_id = $1",
            uuid.UUID(alert_id),
            now,
            reason,
        )
        if existing.status == "resolved":
            return IngestedAlert(alert_id, incident_id, "duplicate", None, reason=reason)
        await conn.execute(
            "UPDATE incident_groups SET last_activity = $2, updated_at = $2 WHERE incident_id = $1",
            uuid.UUID(incident_id),
            now,
        )
        return IngestedAlert(alert_id, incident_id, "resolved", None, reason=reason)

    async def _fold(
        self,
        conn: asyncpg.Connection,
        incident_id: str,
        alert: NormalizedAlert,
        now: datetime,
        keys: list[str],
    ) -> None:
        """Fold an alert into its incident group: every received alert counts (repeats too, as the
        sources count them), the severity is the highest seen."""
        await conn.execute(
            """
            UPDATE incident_groups
            SET alert_count = alert_count + 1,
                severity = CASE WHEN array_position($6::text[], $2) > array_position($6::text[], severity)
                                THEN $2 ELSE severity END,
                first_seen = LEAST(first_seen, $3), last_seen = GREATEST(last_seen, $4),
                last_activity = $5, updated_at = $5
            WHERE incident_id = $1
            """,
            uuid.UUID(incident_id),
            alert.severity.label.value,
            alert.first_seen,
            alert.last_seen,
            now,
            SEVERITY_ORDER,
        )
        if keys:
            await conn.execute(
                """
                INSERT INTO correlation_keys (key, incident_id, last_seen)
                SELECT k, $2, $3 FROM unnest($1::text[]) AS k
                ON CONFLICT (key, incident_id) DO UPDATE SET last_seen = EXCLUDED.last_seen
                """,
                keys,
                uuid.UUID(incident_id),
                now,
            )


def _alert_row(row: asyncpg.Record) -> dict[str, Any]:
    return {**dict(row), "alert_id": str(row["alert_id"]), "incident_id": str(row["incident_id"])}
