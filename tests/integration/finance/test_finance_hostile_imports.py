"""Cost imports with characters PostgreSQL cannot store (issue 18): a NUL in a FOCUS or CUR CSV
fails the import with the line and the column, never `internal error`, and stores nothing.

The files are the FOCUS 1.0 and CUR samples of `tests/fixtures/costs` with one NUL written into
one field, as a broken exporter or a hostile uploader would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from acso_financial_intelligence.app import create_app
from acso_financial_intelligence.settings import Settings
from acso_shared.db import Database
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

COSTS = Path(__file__).parents[2] / "fixtures" / "costs"


@pytest.fixture
async def finance(stack: TestStack, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    db = Database(stack.database_url)
    await db.connect()
    try:
        await db.execute("TRUNCATE cost_records, cost_imports")
    finally:
        await db.close()
    settings = stack.service_settings(
        Settings, cost_refresh_on_start=False, cost_import_dir=tmp_path, cost_explorer_forecast=False
    )
    async with running(create_app(settings)) as client:
        yield client


def _with_nul(name: str, line: int, field: int) -> bytes:
    lines = (COSTS / name).read_text().splitlines(keepends=True)
    fields = lines[line - 1].split(",")
    fields[field - 1] = fields[field - 1][:2] + "\x00" + fields[field - 1][2:]
    lines[line - 1] = ",".join(fields)
    return "".join(lines).encode()


async def _import(client: TestClient[Any, Any], stack: TestStack, body: bytes, fmt: str) -> dict[str, Any]:
    response = await client.post(
        f"/v1/costs/imports?format={fmt}", data=body, headers={**stack.auth("it_operator"), "Content-Type": "text/csv"}
    )
    assert response.status == 202, await response.text()
    job = await response.json()

    async def finished() -> dict[str, Any] | None:
        current = await (await client.get(f"/v1/costs/imports/{job['id']}", headers=stack.auth("analyst"))).json()
        return current if current.get("status") in ("succeeded", "failed") else None

    return dict(await wait_until(finished, timeout_s=60))


async def _stored_rows(stack: TestStack) -> int:
    db = Database(stack.database_url)
    await db.connect()
    try:
        return int(await db.fetchval("SELECT count(*) FROM cost_records"))
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("fixture", "fmt", "line", "field", "column"),
    [
        ("focus_1_0_sample.csv", "focus", 3, 19, "ServiceName"),
        ("cur_sample.csv", "cur", 2, 17, "product/ProductName"),
    ],
)
async def test_a_nul_in_a_cost_csv_fails_the_import_with_line_and_column(
    stack: TestStack, finance: TestClient[Any, Any], fixture: str, fmt: str, line: int, field: int, column: str
) -> None:
    header = (COSTS / fixture).read_text().splitlines()[0].split(",")
    assert header[field - 1] == column  # the fixture's layout, so the spec names the right column

    job = await _import(finance, stack, _with_nul(fixture, line, field), fmt)

    assert job["status"] == "failed", job
    error = job["error"]
    assert error["code"] != "import_failed"
    assert error["message"] != "internal error"
    assert f"line {line}" in error["message"]
    assert f"column {column}" in error["message"]
    assert "NUL" in error["message"]
    assert await _stored_rows(stack) == 0
