"""A step after two parallel steps (the malware playbook's quarantine after evidence and snapshot) is
released exactly once, even when both predecessors finish in transactions that overlap."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from acso_incident_response.planning import ACTION_EXECUTE, dispatch_ready
from acso_shared.db import Database
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def _incident_with_a_join(db: Database) -> tuple[str, dict[str, str]]:
    """An incident whose `quarantine` waits for two running steps, `evidence` and `snapshot`."""
    incident_id = f"inc-join-{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    await db.execute(
        "INSERT INTO ir_incidents (id, title, status, severity, verdict, finding_type, fingerprint, workflow_id,"
        " first_seen, last_seen) VALUES ($1, 'join', 'triaged', 'high', 'malicious', 'Backdoor:EC2/X', $1,"
        " $2, $3, $3)",
        incident_id,
        f"wf-{incident_id}",
        now,
    )
    ids = {step: str(uuid.uuid4()) for step in ("evidence", "snapshot", "quarantine")}
    for seq, (step, status, after) in enumerate(
        [("evidence", "running", []), ("snapshot", "running", []), ("quarantine", "planned", ["evidence", "snapshot"])]
    ):
        await db.execute(
            "INSERT INTO ir_actions (id, incident_id, playbook, step, seq, action_type, target, risk, status,"
            " after_steps) VALUES ($1, $2, 'malware-ec2-instance', $3, $4, 'ec2.quarantine', $5, 'low', $6, $7)",
            ids[step],
            incident_id,
            step,
            seq,
            f"ec2_instance:i-{step}",
            status,
            after,
        )
    return incident_id, ids


async def test_two_predecessors_finishing_together_release_the_step_after_them_once(stack: TestStack) -> None:
    db = Database(stack.database_url, min_size=0, max_size=3)
    await db.connect()
    try:
        incident_id, ids = await _incident_with_a_join(db)
        async with db.connection() as first, db.connection() as second:
            # Given the evidence step finishing: it sees the snapshot still running, so releases nothing yet.
            first_tx = first.transaction()
            await first_tx.start()
            await first.execute("UPDATE ir_actions SET status = 'succeeded' WHERE id = $1", ids["evidence"])
            await dispatch_ready(first, incident_id)
            # When the snapshot finishes before that commits...
            second_tx = second.transaction()
            await second_tx.start()
            await second.execute("UPDATE ir_actions SET status = 'succeeded' WHERE id = $1", ids["snapshot"])
            racing = asyncio.create_task(dispatch_ready(second, incident_id))
            pid = second.get_server_pid()

            async def waiting_for_the_first() -> bool:
                state = await db.fetchval("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid)
                return racing.done() or state == "Lock"

            await wait_until(waiting_for_the_first, timeout_s=10, interval_s=0.05)
            await first_tx.commit()
            await racing
            await second_tx.commit()

        # Then the second decision saw the first's outcome and released the quarantine, once.
        queued = await db.fetch(
            "SELECT payload FROM ir_outbox WHERE kind = 'task' AND payload->'envelope'->'payload'->>'incident_id' = $1",
            incident_id,
        )
        assert [row["payload"]["envelope"]["idempotency_key"] for row in queued] == [
            f"{ACTION_EXECUTE}:{ids['quarantine']}"
        ]
    finally:
        await db.close()
