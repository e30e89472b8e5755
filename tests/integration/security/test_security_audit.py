"""The audit log on real PostgreSQL: every mutating request lands in it with who, what, where and
the outcome; automated actions are recorded once; tampering with a row is found by the verifier
and by `acso audit verify`; the export is JSON lines that verify on their own."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from acso_shared.audit.chain import AuditRecord, AuditResult, Problem, from_jsonl, verify
from acso_shared.audit.repository import AuditLog
from acso_shared.db import Database
from acso_shared.errors import Invalid
from acso_shared.web.api import ApiRouter, json_response
from tests.integration.security.support_security import bare_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
async def audit(stack: TestStack) -> AsyncIterator[AuditLog]:
    database = Database(stack.database_url, min_size=1, max_size=2)
    await database.connect()
    try:
        yield AuditLog(database)
    finally:
        await database.close()


def _comments_router() -> ApiRouter:
    router = ApiRouter("incidents")

    @router.route("POST", "/v1/incidents/{id}/comments", summary="Comment", status=201)
    async def comment(request: web.Request) -> web.Response:
        if request.match_info["id"] == "broken":
            raise Invalid("validation_failed", "no such thing")
        return json_response({"ok": True}, status=201)

    return router


async def _entry(audit: AuditLog, request_id: str) -> AuditRecord:
    records = [r async for r in audit.records() if r.request_id == request_id]
    assert len(records) == 1
    return records[0]


async def test_a_mutating_request_is_recorded_with_who_what_where_and_the_result(
    stack: TestStack, audit: AuditLog
) -> None:
    request_id = f"audit-{uuid.uuid4().hex}"
    async with running(bare_app(stack, _comments_router())) as client:
        response = await client.post(
            "/v1/incidents/inc-7/comments",
            json={"text": "hi"},
            headers={**stack.auth("analyst"), "X-Request-Id": request_id},
        )
        assert response.status == 201
    record = await _entry(audit, request_id)
    assert record.actor == stack.aws_settings().manifest.demo_users["analyst"]
    assert record.actor_kind == "user"
    assert record.action == "POST /v1/incidents/{id}/comments"
    assert record.target == "/v1/incidents/inc-7/comments"
    assert record.source_ip == "127.0.0.1"
    assert record.result is AuditResult.SUCCESS
    assert record.details["status"] == 201
    assert record.details["params"] == {"id": "inc-7"}


async def test_denied_and_failed_requests_are_recorded_with_their_outcome(stack: TestStack, audit: AuditLog) -> None:
    denied_id, failed_id = f"audit-{uuid.uuid4().hex}", f"audit-{uuid.uuid4().hex}"
    async with running(bare_app(stack, _comments_router())) as client:
        denied = await client.post(
            "/v1/incidents/inc-7/comments", json={}, headers={**stack.auth("executive"), "X-Request-Id": denied_id}
        )
        failed = await client.post(
            "/v1/incidents/broken/comments", json={}, headers={**stack.auth("responder"), "X-Request-Id": failed_id}
        )
    assert (denied.status, failed.status) == (403, 400)
    assert (await _entry(audit, denied_id)).result is AuditResult.DENIED
    failure = await _entry(audit, failed_id)
    assert failure.result is AuditResult.FAILURE
    assert failure.details["status"] == 400


async def test_reads_and_unauthenticated_attempts_are_not_recorded(stack: TestStack, audit: AuditLog) -> None:
    read_id, anonymous_id = f"audit-{uuid.uuid4().hex}", f"audit-{uuid.uuid4().hex}"
    async with running(bare_app(stack, _comments_router())) as client:
        assert (await client.get("/v1/me", headers={**stack.auth("admin"), "X-Request-Id": read_id})).status == 200
        anonymous = await client.post("/v1/incidents/x/comments", json={}, headers={"X-Request-Id": anonymous_id})
        assert anonymous.status == 401
    assert [r async for r in audit.records() if r.request_id in (read_id, anonymous_id)] == []


async def test_an_automated_action_recorded_twice_with_one_key_is_stored_once(audit: AuditLog) -> None:
    key = f"step-{uuid.uuid4().hex}"
    first = await audit.record(
        "containment.isolate_instance", target="i-0abc", details={"dry_run": False}, idempotency_key=key
    )
    again = await audit.record(
        "containment.isolate_instance", target="i-0abc", details={"dry_run": False}, idempotency_key=key
    )
    assert again == first
    assert first.actor == "acso"
    assert first.actor_kind == "system"
    assert (
        len([r async for r in audit.records(after_seq=first.seq - 1) if r.details.get("idempotency_key") == key]) == 1
    )


async def test_the_database_refuses_to_change_a_row(audit: AuditLog, stack: TestStack) -> None:
    record = await audit.record("test.immutable")
    connection = await asyncpg.connect(stack.database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", record.seq)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("DELETE FROM audit_log WHERE seq = $1", record.seq)
    finally:
        await connection.close()


async def _acso(stack: TestStack, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "acso_shared.cli",
        *args,
        env={**os.environ, "ACSO_DATABASE_URL": stack.database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_tampering_with_one_row_is_detected_by_the_verifier_and_the_command(
    stack: TestStack, audit: AuditLog
) -> None:
    for n in range(3):
        await audit.record("test.tamper", target=f"row-{n}")
    victim = (await audit.page(after_seq=0, limit=1_000_000, action="test.tamper"))[-2]
    assert (await audit.verify()).ok
    superuser = await asyncpg.connect(stack.database_url)
    try:
        # Only a superuser can lift the append-only trigger: the attacker this check is for.
        await superuser.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
        await superuser.execute("UPDATE audit_log SET target = 'row-forged' WHERE seq = $1", victim.seq)
        try:
            report = await audit.verify()
            code, output = await _acso(stack, "audit", "verify")
        finally:
            # Put the row back so the shared database's chain verifies for the tests after this one.
            await superuser.execute("UPDATE audit_log SET target = $2 WHERE seq = $1", victim.seq, victim.target)
    finally:
        await superuser.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete")
        await superuser.close()
    assert not report.ok
    assert report.first_bad_seq == victim.seq
    assert report.problem is Problem.HASH_MISMATCH
    assert code == 1
    assert f'"first_bad_seq":{victim.seq}' in output
    assert (await audit.verify()).ok
    assert (await _acso(stack, "audit", "verify"))[0] == 0


async def test_the_export_is_json_lines_that_verify_on_their_own(
    stack: TestStack, audit: AuditLog, tmp_path: Path
) -> None:
    first = await audit.record("test.export", target="a")
    await audit.record("test.export", target="b")
    target = tmp_path / "audit.jsonl"
    code, _ = await _acso(stack, "audit", "export", "--after-seq", str(first.seq - 1), "--output", str(target))
    assert code == 0
    records = list(from_jsonl(target.read_text().splitlines()))
    assert records[0] == first
    assert [r.target for r in records if r.action == "test.export"][-2:] == ["a", "b"]
    assert verify(records, genesis_hash=first.prev_hash).ok
