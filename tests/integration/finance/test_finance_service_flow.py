"""The financial-intelligence service on the real emulator and database: Cost Explorer, imports, waste, alerts."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aiohttp.test_utils import TestClient

from acso_financial_intelligence.app import create_app
from acso_financial_intelligence.cost_explorer import seed_responses
from acso_financial_intelligence.costs.generator import EC2_COMPUTE, generate_costs
from acso_financial_intelligence.costs.models import CostRecord
from acso_financial_intelligence.keys import FINANCE
from acso_financial_intelligence.models import COST_FINDINGS, COST_REFRESH, FindingsRequest
from acso_financial_intelligence.settings import Settings
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import COST_IMPACT_REQUEST
from acso_shared.db import Database
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.web.keys import RUNTIME
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FOCUS_COLUMNS = [
    "ChargePeriodStart",
    "ServiceName",
    "BillingCurrency",
    "BilledCost",
    "SubAccountId",
    "RegionId",
    "ResourceId",
    "Tags",
    "ChargeCategory",
]
_TABLES = (
    "cost_records, cost_imports, cost_anomalies, cost_incident_impacts, cost_security_findings, cost_alerts, "
    "cost_forecasts"
)


@pytest.fixture(autouse=True)
async def empty_finance_tables(stack: TestStack) -> AsyncIterator[None]:
    """These tables belong to this service alone; each spec starts from no cost data."""
    db = Database(stack.database_url)
    await db.connect()
    try:
        await db.execute(f"TRUNCATE {_TABLES}")
        yield
    finally:
        await db.close()


def _settings(stack: TestStack, tmp_path: Any, **overrides: Any) -> Settings:
    # The emulator has no GetCostForecast; only the refresh spec waits for the SDK's retries to give up.
    values: dict[str, Any] = {
        "cost_refresh_on_start": False,
        "cost_import_dir": tmp_path,
        "cost_import_max_bytes": 4 * 1024 * 1024,
        "waste_volume_grace_days": 0,
        "waste_snapshot_max_age_days": 0,
        "cost_explorer_forecast": False,
    }
    values.update(overrides)
    settings: Settings = stack.service_settings(Settings, **values)
    return settings


@pytest.fixture
async def finance(stack: TestStack, tmp_path: Any) -> AsyncIterator[TestClient[Any, Any]]:
    async with running(create_app(_settings(stack, tmp_path))) as client:
        yield client


def _focus_csv(records: list[CostRecord]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FOCUS_COLUMNS)
    for r in records:
        writer.writerow(
            [
                f"{r.usage_date}T00:00:00Z",
                r.service,
                r.currency,
                f"{r.amount:.4f}",
                r.account,
                r.region,
                r.resource_id or "",
                json.dumps(r.tags),
                r.charge_category.value,
            ]
        )
    return out.getvalue().encode()


async def _import(
    client: TestClient[Any, Any], stack: TestStack, body: bytes, media_type: str = "text/csv", query: str = ""
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/costs/imports{query}", data=body, headers={**stack.auth("it_operator"), "Content-Type": media_type}
    )
    assert response.status == 202, await response.text()
    job = await response.json()
    assert response.headers["Location"] == f"/v1/costs/imports/{job['id']}"

    async def finished() -> dict[str, Any] | None:
        current = await (await client.get(f"/v1/costs/imports/{job['id']}", headers=stack.auth("analyst"))).json()
        return current if current["status"] in ("succeeded", "failed") else None

    result: dict[str, Any] = await wait_until(finished, timeout_s=60)
    return result


async def _summary(client: TestClient[Any, Any], stack: TestStack, days: int = 30) -> dict[str, Any]:
    response = await client.get(f"/v1/costs/summary?days={days}", headers=stack.auth("executive"))
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def _drain(stack: TestStack, queue_name: str, kind: str) -> list[dict[str, Any]]:
    """Receive and delete every message on a queue; return the envelopes of `kind`."""
    clients = AwsClientFactory(stack.aws_settings())
    found: list[dict[str, Any]] = []
    try:
        sqs = await clients.client("sqs")
        url = (await sqs.get_queue_url(QueueName=queue_name))["QueueUrl"]
        while True:
            batch = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)).get(
                "Messages", []
            )
            if not batch:
                return found
            found += [e for e in (json.loads(m["Body"]) for m in batch) if e.get("kind") == kind]
            await sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            )
    finally:
        await clients.aclose()


async def test_a_focus_csv_import_streams_in_the_background_and_feeds_the_summary(
    stack: TestStack, finance: TestClient[Any, Any]
) -> None:
    generated = generate_costs(seed=11, days=100, spikes=1, level_shifts=0, crypto_mining=0)

    job = await _import(finance, stack, _focus_csv(generated.records))

    assert job["status"] == "succeeded", job
    assert job["format"] == "focus"
    assert job["rows_read"] == len(generated.records)
    assert job["progress"] == 1.0
    summary = (await _summary(finance, stack))["summary"]
    last = max(r.usage_date for r in generated.records)
    expected = sum(r.amount for r in generated.records if last - timedelta(days=29) <= r.usage_date <= last)
    assert summary["end"] == last.isoformat()
    assert summary["total"] == pytest.approx(expected, abs=0.05)


async def test_importing_the_same_bill_twice_does_not_double_the_spend(
    stack: TestStack, finance: TestClient[Any, Any]
) -> None:
    records = generate_costs(seed=12, days=90, spikes=0, level_shifts=0, crypto_mining=0).records
    body = _focus_csv(records)

    await _import(finance, stack, body)
    first = (await _summary(finance, stack))["summary"]["total"]
    await _import(finance, stack, body)

    assert (await _summary(finance, stack))["summary"]["total"] == first


async def test_a_focus_parquet_export_is_imported(stack: TestStack, finance: TestClient[Any, Any]) -> None:
    records = generate_costs(seed=13, days=90, spikes=0, level_shifts=0, crypto_mining=0).records
    table = pa.Table.from_pylist(
        [
            {
                "ChargePeriodStart": datetime.combine(r.usage_date, datetime.min.time(), tzinfo=UTC),
                "ServiceName": r.service,
                "BillingCurrency": r.currency,
                "BilledCost": r.amount,
                "SubAccountId": r.account,
                "RegionId": r.region,
                "Tags": json.dumps(r.tags),
                "ChargeCategory": r.charge_category.value,
            }
            for r in records
        ]
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=1000)

    job = await _import(finance, stack, sink.getvalue(), media_type="application/vnd.apache.parquet")

    assert job["status"] == "succeeded", job
    assert job["rows_read"] == len(records)
    assert (await _summary(finance, stack))["sources"] == ["focus"]


async def test_a_malformed_row_fails_the_import_with_its_line_and_stores_nothing(
    stack: TestStack, finance: TestClient[Any, Any]
) -> None:
    records = generate_costs(seed=14, days=90, spikes=0, level_shifts=0, crypto_mining=0).records[:50]
    lines = _focus_csv(records).decode().splitlines()
    lines[7] = lines[7].replace(lines[7].split(",")[3], "twelve", 1)

    job = await _import(finance, stack, ("\n".join(lines) + "\n").encode())

    assert job["status"] == "failed"
    assert job["error"]["code"] == "cost_file_invalid"
    assert job["error"]["line"] == 8
    assert job["error"]["column"] == "BilledCost"
    missing = await finance.get("/v1/costs/summary", headers=stack.auth("analyst"))
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "cost_data_missing"


async def test_a_file_that_is_neither_focus_nor_cur_fails_with_line_one(
    stack: TestStack, finance: TestClient[Any, Any]
) -> None:
    job = await _import(finance, stack, b"name,amount\nfoo,1\n")
    assert job["status"] == "failed"
    assert job["error"]["line"] == 1


async def test_bad_uploads_are_refused_with_4xx_codes(stack: TestStack, finance: TestClient[Any, Any]) -> None:
    operator = stack.auth("it_operator")
    wrong_type = await finance.post(
        "/v1/costs/imports", data=b"{}", headers={**operator, "Content-Type": "application/json"}
    )
    too_large = await finance.post(
        "/v1/costs/imports", data=b"x" * (4 * 1024 * 1024 + 1), headers={**operator, "Content-Type": "text/csv"}
    )
    bad_format = await finance.post(
        "/v1/costs/imports?format=xml", data=b"a", headers={**operator, "Content-Type": "text/csv"}
    )
    analyst = await finance.post(
        "/v1/costs/imports", data=b"a", headers={**stack.auth("analyst"), "Content-Type": "text/csv"}
    )
    unknown = await finance.get(f"/v1/costs/imports/{uuid.uuid4()}", headers=operator)
    not_uuid = await finance.get("/v1/costs/imports/abc", headers=operator)

    assert (wrong_type.status, (await wrong_type.json())["error"]["code"]) == (415, "unsupported_media_type")
    assert (too_large.status, (await too_large.json())["error"]["code"]) == (413, "payload_too_large")
    assert (bad_format.status, (await bad_format.json())["error"]["code"]) == (400, "invalid_query")
    assert analyst.status == 403
    assert unknown.status == 404
    assert not_uuid.status == 400


async def _seed_ce(stack: TestStack, records: list[CostRecord], tag_keys: tuple[str, ...]) -> None:
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{stack.emulator_url}/moto-api/static/ce/cost-and-usage-results",
            json={"results": seed_responses(records, tag_keys)},
        )
        assert response.status == 201


async def test_a_cost_refresh_task_caches_cost_explorer_data_and_detects_anomalies(
    stack: TestStack, tmp_path: Any
) -> None:
    async with running(create_app(_settings(stack, tmp_path, cost_explorer_forecast=True))) as finance:
        await _refresh_and_check(stack, finance)


async def _refresh_and_check(stack: TestStack, finance: TestClient[Any, Any]) -> None:
    # A window of its own: the emulator answers a repeated identical request from its cache.
    generated = generate_costs(seed=21, start=date(2025, 3, 1), days=120, spikes=2, level_shifts=0, crypto_mining=0)
    await _seed_ce(stack, generated.records, ("team", "env"))
    runtime = finance.app[RUNTIME]

    await runtime.send_task(
        Agent.FINANCIAL_INTELLIGENCE,
        Envelope.new(kind=COST_REFRESH, sender="test", payload={"start": "2025-03-01", "end": "2025-06-29"}),
    )

    async def refreshed() -> dict[str, Any] | None:
        response = await finance.get("/v1/costs/summary?days=120", headers=stack.auth("executive"))
        return await response.json() if response.status == 200 else None

    body = await wait_until(refreshed, timeout_s=60)
    assert body["sources"] == ["ce"]
    assert body["fetched_at"] is not None
    assert body["summary"]["total"] == pytest.approx(sum(r.amount for r in generated.records), abs=0.5)
    accounts = {b["key"] for b in body["summary"]["by_account"]}
    assert accounts == {r.account for r in generated.records}

    anomalies = await wait_until(lambda: _anomalies(finance, stack), timeout_s=60)
    spikes = {(a.service, a.start) for a in generated.anomalies}
    assert any((a["key"], date.fromisoformat(a["start_date"])) in spikes for a in anomalies)

    forecast = await (await finance.get("/v1/costs/forecast", headers=stack.auth("analyst"))).json()
    # The emulator has no GetCostForecast: the service says so and forecasts locally.
    assert forecast["source"] == "local"
    assert "GetCostForecast" in forecast["fallback_reason"]
    assert forecast["forecast"]["last_observed"] == "2025-06-28"


async def _anomalies(client: TestClient[Any, Any], stack: TestStack) -> list[dict[str, Any]]:
    response = await client.get("/v1/costs/anomalies", headers=stack.auth("analyst"))
    assert response.status == 200
    anomalies: list[dict[str, Any]] = (await response.json())["anomalies"]
    return anomalies


def _mining_bill() -> tuple[list[CostRecord], date]:
    base = generate_costs(seed=31, start=date(2025, 9, 1), days=90, spikes=0, level_shifts=0, crypto_mining=0)
    day = date(2025, 11, 20)
    # A small steady footprint in sa-east-1, then three GPU instances for a day.
    steady = [
        CostRecord(
            usage_date=date(2025, 9, 1) + timedelta(days=i),
            amount=20.0,
            service=EC2_COMPUTE,
            account="111111111111",
            region="sa-east-1",
            resource_id="i-0000000000000aaaa",
        )
        for i in range(90)
    ]
    miners = [
        CostRecord(
            usage_date=day,
            amount=587.52,
            service=EC2_COMPUTE,
            account="111111111111",
            region="sa-east-1",
            usage_type="BoxUsage:p3.16xlarge",
            resource_id=f"i-0{n}aaaaaaaaaaaaaaa",
        )
        for n in range(3)
    ]
    return [*base.records, *steady, *miners], day


async def test_a_compute_anomaly_with_a_concurrent_finding_raises_an_alert_to_the_supervisor(
    stack: TestStack, finance: TestClient[Any, Any]
) -> None:
    supervisor_queue = stack.aws_settings().manifest.task_queues[Agent.SUPERVISOR].name
    await _drain(stack, supervisor_queue, "alert.ingest")
    bill, day = _mining_bill()
    await _import(finance, stack, _focus_csv(bill))
    await wait_until(lambda: _anomalies(finance, stack), timeout_s=60)
    runtime = finance.app[RUNTIME]
    finding = {
        "id": f"gd-{uuid.uuid4()}",
        "title": "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "region": "sa-east-1",
        "account": "111111111111",
        "observed_at": f"{day}T09:00:00Z",
        "severity": "high",
        "resource_ids": ["i-00aaaaaaaaaaaaaaa"],
    }

    await runtime.send_task(
        Agent.FINANCIAL_INTELLIGENCE, Envelope.new(kind=COST_FINDINGS, sender="test", payload={"findings": [finding]})
    )

    async def alerts() -> list[dict[str, Any]]:
        return await _drain(stack, supervisor_queue, "alert.ingest")

    [envelope] = await wait_until(alerts, timeout_s=60)
    [alert] = envelope["payload"]["alerts"]
    assert alert["schema"] == "acso.alert/v1"
    assert alert["region"] == "sa-east-1"
    assert {"type": "instance_id", "value": "i-00aaaaaaaaaaaaaaa"} in alert["observables"]
    # Findings arriving again change nothing: the alert was recorded and sent once.
    service = finance.app[FINANCE]
    assert await service.ingest_findings(FindingsRequest.model_validate({"findings": [finding]})) == 0


async def test_an_incident_cost_impact_request_is_stored_and_served(
    stack: TestStack, finance: TestClient[Any, Any]
) -> None:
    bill, day = _mining_bill()
    await _import(finance, stack, _focus_csv(bill))
    incident_id = f"inc-{uuid.uuid4()}"
    runtime = finance.app[RUNTIME]

    await runtime.send_task(
        Agent.FINANCIAL_INTELLIGENCE,
        Envelope.new(
            kind=COST_IMPACT_REQUEST,
            sender="incident_response",
            payload={
                "incident_id": incident_id,
                "resource_ids": ["i-00aaaaaaaaaaaaaaa", "i-01aaaaaaaaaaaaaaa"],
                "window_start": f"{day}T06:00:00Z",
                "window_end": f"{day}T23:00:00Z",
            },
        ),
    )

    async def impact() -> dict[str, Any] | None:
        response = await finance.get(f"/v1/costs/incidents/{incident_id}", headers=stack.auth("analyst"))
        return await response.json() if response.status == 200 else None

    body = await wait_until(impact, timeout_s=60)
    assert body["actual_cost"] == pytest.approx(2 * 587.52, abs=0.01)
    assert body["baseline_cost"] == 0
    assert body["total_impact"] == pytest.approx(2 * 587.52, abs=0.01)
    missing = await finance.get("/v1/costs/incidents/inc-unknown", headers=stack.auth("analyst"))
    assert (missing.status, (await missing.json())["error"]["code"]) == (404, "cost_impact_not_found")


async def test_waste_finds_idle_instances_unattached_volumes_and_old_snapshots(
    stack: TestStack, finance: TestClient[Any, Any]
) -> None:
    clients = AwsClientFactory(stack.aws_settings())
    try:
        ec2 = await clients.client("ec2")
        cloudwatch = await clients.client("cloudwatch")
        image = (await ec2.describe_images())["Images"][0]["ImageId"]
        [instance] = (await ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.2xlarge"))[
            "Instances"
        ]
        volume = await ec2.create_volume(AvailabilityZone="us-east-1a", Size=200, VolumeType="gp3")
        snapshot = await ec2.create_snapshot(VolumeId=volume["VolumeId"])
        today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        for days_ago in range(1, 11):
            at = today - timedelta(days=days_ago)
            dims = [{"Name": "InstanceId", "Value": instance["InstanceId"]}]
            await cloudwatch.put_metric_data(
                Namespace="AWS/EC2",
                MetricData=[
                    {
                        "MetricName": "CPUUtilization",
                        "Dimensions": dims,
                        "Timestamp": at,
                        "Value": 1.5,
                        "Unit": "Percent",
                    },
                    {"MetricName": "NetworkIn", "Dimensions": dims, "Timestamp": at, "Value": 1000.0, "Unit": "Bytes"},
                    {"MetricName": "NetworkOut", "Dimensions": dims, "Timestamp": at, "Value": 1000.0, "Unit": "Bytes"},
                ],
            )
    finally:
        await clients.aclose()

    response = await finance.get("/v1/costs/waste", headers=stack.auth("it_operator"))

    assert response.status == 200, await response.text()
    findings = {f["resource_id"]: f for f in (await response.json())["findings"]}
    assert findings[instance["InstanceId"]]["kind"] == "idle_instance"
    assert findings[instance["InstanceId"]]["evidence"]["days_observed"] == 10
    assert findings[volume["VolumeId"]]["kind"] == "unattached_volume"
    assert findings[volume["VolumeId"]]["monthly_savings"] == pytest.approx(16.0)
    assert findings[snapshot["SnapshotId"]]["kind"] == "old_snapshot"


async def test_the_executive_report_negotiates_json_and_html(stack: TestStack, finance: TestClient[Any, Any]) -> None:
    records = generate_costs(seed=41, days=90, spikes=1, level_shifts=0, crypto_mining=0).records
    await _import(finance, stack, _focus_csv(records))
    executive = stack.auth("executive")

    as_json = await finance.get("/v1/reports/executive", headers=executive)
    by_accept = await finance.get("/v1/reports/executive", headers={**executive, "Accept": "text/html"})
    by_query = await finance.get("/v1/reports/executive?format=html", headers=executive)
    it_operator = await finance.get("/v1/reports/executive", headers=stack.auth("it_operator"))

    assert as_json.status == 200
    report = await as_json.json()
    assert report["reasoning"] == "deterministic"
    assert report["summary"]["total"] > 0
    for page in (by_accept, by_query):
        assert page.status == 200
        assert page.content_type == "text/html"
        html = await page.text()
        assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
        assert "<script" not in html
    assert it_operator.status == 403
