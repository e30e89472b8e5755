"""PostgreSQL access for change records (so_operations) and per-instance results."""

from __future__ import annotations

import uuid
from typing import Any

from acso_service_orchestration.itsm.servicenow import ChangeState
from acso_service_orchestration.operations.models import (
    InstanceResult,
    ItsmChange,
    Operation,
    OperationPlan,
    OperationsQuery,
    OperationStatus,
    TargetInstance,
)
from acso_service_orchestration.operations.ssm import InstanceRun
from acso_shared.db import Database

_COLUMNS = """
    id, operation, status, risk, approval_required, approval_reasons, requested_by, requested_by_name,
    requested_via, approved_by, approved_at, rejected_by, rejected_at, rejection_comment, incident_id, reason,
    document, parameters, target, max_concurrency, max_errors, emergency, window_check, rollback_plan,
    compliance, created_at, started_at, finished_at, summary, reply_to, change_request
"""


class OperationStore:
    """Reads and writes change records."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(
        self,
        plan: OperationPlan,
        *,
        status: OperationStatus,
        requested_by: str,
        requested_by_name: str,
        requested_via: str,
        incident_id: str | None,
        reason: str,
        request_key: str | None,
        reply_to: dict[str, Any] | None,
    ) -> str:
        """Create the record and its instance rows; with a request key, an existing record for the
        same request is returned instead (a redelivered agent request creates nothing new)."""
        operation_id = str(uuid.uuid4())
        async with self._db.transaction() as connection:
            inserted = await connection.fetchval(
                """
                INSERT INTO so_operations (id, request_key, operation, status, risk, approval_required,
                    approval_reasons, requested_by, requested_by_name, requested_via, incident_id, reason, document,
                    parameters, target, max_concurrency, max_errors, emergency, window_check, rollback_plan,
                    compliance, reply_to)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                        $21, $22)
                ON CONFLICT (request_key) DO NOTHING
                RETURNING id
                """,
                uuid.UUID(operation_id),
                request_key,
                plan.operation,
                status,
                plan.risk,
                plan.approval_required,
                plan.approval_reasons,
                requested_by,
                requested_by_name,
                requested_via,
                incident_id,
                reason,
                plan.document,
                plan.parameters,
                {"targets": [t.model_dump() for t in plan.targets], "tag_filter": plan.tag_filter},
                plan.max_concurrency,
                plan.max_errors,
                plan.emergency,
                plan.window.model_dump(mode="json"),
                plan.rollback_plan,
                [c.model_dump(mode="json") for c in plan.compliance],
                reply_to,
            )
            if inserted is None:
                existing = await connection.fetchval("SELECT id FROM so_operations WHERE request_key = $1", request_key)
                return str(existing)
            await connection.executemany(
                "INSERT INTO so_operation_instances (operation_id, instance_id, status) VALUES ($1, $2, 'pending')",
                [(uuid.UUID(operation_id), t.instance_id) for t in plan.targets],
            )
        return operation_id

    async def get(self, operation_id: str) -> Operation | None:
        """The change record with its per-instance results."""
        try:
            key = uuid.UUID(operation_id)
        except ValueError:
            return None
        row = await self._db.fetchrow(f"SELECT {_COLUMNS} FROM so_operations WHERE id = $1", key)  # noqa: S608
        if row is None:
            return None
        instances = await self._db.fetch(
            "SELECT * FROM so_operation_instances WHERE operation_id = $1 ORDER BY instance_id", key
        )
        changes = await self._changes([key])
        return _operation(row, instances, changes.get(key))

    async def reply_to(self, operation_id: str) -> dict[str, Any] | None:
        """Where to send `operation.result` for an agent's request (None for API requests)."""
        value = await self._db.fetchval("SELECT reply_to FROM so_operations WHERE id = $1", uuid.UUID(operation_id))
        return value if isinstance(value, dict) else None

    async def search(self, query: OperationsQuery) -> list[Operation]:
        """Newest first, filtered by status and incident."""
        rows = await self._db.fetch(
            f"""
            SELECT {_COLUMNS} FROM so_operations
             WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR incident_id = $2)
             ORDER BY created_at DESC LIMIT $3
            """,  # noqa: S608 - the interpolated text is a constant column list
            query.status,
            query.incident_id,
            query.limit,
        )
        if not rows:
            return []
        instances = await self._db.fetch(
            "SELECT * FROM so_operation_instances WHERE operation_id = ANY($1::uuid[]) ORDER BY instance_id",
            [r["id"] for r in rows],
        )
        by_operation: dict[Any, list[Any]] = {}
        for instance in instances:
            by_operation.setdefault(instance["operation_id"], []).append(instance)
        changes = await self._changes([r["id"] for r in rows])
        return [_operation(r, by_operation.get(r["id"], []), changes.get(r["id"])) for r in rows]

    async def _changes(self, keys: list[uuid.UUID]) -> dict[uuid.UUID, ItsmChange]:
        """The ITSM change request of each operation that has one (ServiceNow is the only system)."""
        rows = await self._db.fetch(
            """
            SELECT operation_id, system, number, url, state, status, attempts, last_error, next_attempt_at
              FROM so_change_requests WHERE operation_id = ANY($1::uuid[])
            """,
            keys,
        )
        return {r["operation_id"]: _itsm_change(r) for r in rows}

    async def approve(self, operation_id: str, approver: str) -> bool:
        """Move a pending record to approved; False when it was not pending (decided already)."""
        result = await self._db.execute(
            """
            UPDATE so_operations SET status = 'approved', approved_by = $2, approved_at = now()
             WHERE id = $1 AND status = 'pending_approval'
            """,
            uuid.UUID(operation_id),
            approver,
        )
        return result.endswith(" 1")

    async def reject(self, operation_id: str, rejecter: str, comment: str) -> bool:
        """Move a pending record to rejected; False when it was not pending (decided already).

        Conditional on the status like `approve`, so of a concurrent approve and reject exactly one wins.
        """
        result = await self._db.execute(
            """
            UPDATE so_operations
               SET status = 'rejected', rejected_by = $2, rejected_at = now(), rejection_comment = $3
             WHERE id = $1 AND status = 'pending_approval'
            """,
            uuid.UUID(operation_id),
            rejecter,
            comment or None,
        )
        return result.endswith(" 1")

    async def claim_run(self, operation_id: str, owner: str, lease_s: float) -> bool:
        """Take the right to run an approved record, or to resume one whose runner died."""
        result = await self._db.execute(
            """
            UPDATE so_operations
               SET status = 'running', started_at = COALESCE(started_at, now()),
                   lease_owner = $2, lease_until = now() + make_interval(secs => $3)
             WHERE id = $1
               AND (status = 'approved' OR (status = 'running' AND (lease_until IS NULL OR lease_until < now())))
            """,
            uuid.UUID(operation_id),
            owner,
            lease_s,
        )
        return result.endswith(" 1")

    async def renew(self, operation_id: str, owner: str, lease_s: float) -> None:
        """Extend the runner's lease."""
        await self._db.execute(
            "UPDATE so_operations SET lease_until = now() + make_interval(secs => $3)"
            " WHERE id = $1 AND lease_owner = $2",
            uuid.UUID(operation_id),
            owner,
            lease_s,
        )

    async def runnable(self, limit: int = 20) -> list[str]:
        """Approved records, and running ones whose runner's lease lapsed."""
        rows = await self._db.fetch(
            """
            SELECT id FROM so_operations
             WHERE status = 'approved' OR (status = 'running' AND (lease_until IS NULL OR lease_until < now()))
             ORDER BY created_at LIMIT $1
            """,
            limit,
        )
        return [str(r["id"]) for r in rows]

    async def save_instance(self, operation_id: str, run: InstanceRun) -> None:
        """Record one instance's progress or result."""
        await self._db.execute(
            """
            UPDATE so_operation_instances
               SET status = $3, command_id = $4, response_code = $5, stdout = $6, stderr = $7,
                   started_at = $8, finished_at = $9
             WHERE operation_id = $1 AND instance_id = $2
            """,
            uuid.UUID(operation_id),
            run.instance_id,
            run.status,
            run.command_id,
            run.response_code,
            run.stdout,
            run.stderr,
            run.started_at,
            run.finished_at,
        )

    async def set_change_request(self, operation_id: str, record: dict[str, Any]) -> None:
        """Keep the first change-request write-up of a record (a retried creation writes nothing new)."""
        await self._db.execute(
            "UPDATE so_operations SET change_request = COALESCE(change_request, $2) WHERE id = $1",
            uuid.UUID(operation_id),
            record,
        )

    async def finish(self, operation_id: str, status: OperationStatus, summary: dict[str, int]) -> None:
        """Close the record with its outcome."""
        await self._db.execute(
            """
            UPDATE so_operations SET status = $2, summary = $3, finished_at = now(), lease_owner = NULL,
                   lease_until = NULL
             WHERE id = $1
            """,
            uuid.UUID(operation_id),
            status,
            summary,
        )


def _itsm_change(row: Any) -> ItsmChange:
    state = row["state"]
    return ItsmChange.model_validate(
        {
            "system": row["system"],
            "number": row["number"],
            "url": row["url"],
            "state": ChangeState(state).name.lower() if state in set(ChangeState) else state,
            "sync": {
                "status": row["status"],
                "attempts": row["attempts"],
                "last_error": row["last_error"],
                "next_attempt_at": row["next_attempt_at"],
            },
        }
    )


def _operation(row: Any, instances: list[Any], itsm_change: ItsmChange | None = None) -> Operation:
    target = row["target"] or {}
    return Operation(
        id=str(row["id"]),
        operation=row["operation"],
        status=row["status"],
        risk=row["risk"],
        approval_required=row["approval_required"],
        approval_reasons=list(row["approval_reasons"] or []),
        requested_by=row["requested_by"],
        requested_by_name=row["requested_by_name"],
        requested_via=row["requested_via"],
        approved_by=row["approved_by"],
        approved_at=row["approved_at"],
        rejected_by=row["rejected_by"],
        rejected_at=row["rejected_at"],
        rejection_comment=row["rejection_comment"],
        incident_id=row["incident_id"],
        reason=row["reason"],
        document=row["document"],
        parameters=row["parameters"],
        targets=[TargetInstance.model_validate(t) for t in target.get("targets", [])],
        tag_filter=target.get("tag_filter") or {},
        max_concurrency=row["max_concurrency"],
        max_errors=row["max_errors"],
        emergency=row["emergency"],
        window=row["window_check"],
        rollback_plan=row["rollback_plan"],
        compliance=row["compliance"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        summary=row["summary"] or {},
        change_request=row["change_request"],
        itsm_change=itsm_change,
        instances=[
            InstanceResult(
                instance_id=i["instance_id"],
                status=i["status"],
                command_id=i["command_id"],
                response_code=i["response_code"],
                stdout=i["stdout"],
                stderr=i["stderr"],
                started_at=i["started_at"],
                finished_at=i["finished_at"],
            )
            for i in instances
        ],
    )
