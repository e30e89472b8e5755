"""Incidents and tickets through the whole running system (issue #5): the system as `make run`
starts it, integrated with ServiceNow and Jira fakes the way an operator configures real ones
(ACSO_ITSM_INTEGRATIONS, credentials in the provisioned secrets, signed webhooks back)."""

from __future__ import annotations

from typing import Any

import pytest

from acso_shared.aws.clients import AwsClientFactory
from tests.e2e.flow_support import Api, run_instance, settled, tor_finding
from tests.support.itsm import ItsmFakes
from tests.support.stack import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def servicenow_records(itsm: ItsmFakes, incident_id: str) -> list[dict[str, Any]]:
    return [r for r in itsm.servicenow.records("incident") if r.get("correlation_id") == incident_id]


def jira_issues(itsm: ItsmFakes, incident_id: str) -> list[dict[str, Any]]:
    return [i for i in list(itsm.jira.issues.values()) if f"acso-{incident_id}" in i["fields"]["labels"]]


async def tickets(api: Api, incident_id: str) -> dict[str, Any]:
    status, body = await api.call("GET", "service_orchestration", f"/v1/tickets?incident_id={incident_id}", "analyst")
    assert status == 200, body
    return {t["system"]: t for t in body["tickets"]}


async def contained_incident(api: Api, aws: AwsClientFactory) -> str:
    result = await api.send_alert(tor_finding(await run_instance(aws)))
    incident_id: str = result["incident_id"]
    await api.wait_incident(incident_id, lambda i: i["status"] == "contained" and settled(i))
    return incident_id


async def both_tickets_in_progress(api: Api, itsm: ItsmFakes, incident_id: str) -> dict[str, Any] | None:
    linked = await tickets(api, incident_id)
    records, issues = servicenow_records(itsm, incident_id), jira_issues(itsm, incident_id)
    ready = (
        all(t["sync"]["status"] == "synced" for t in linked.values())
        and [r["state"] for r in records] == ["2"]
        and [i["fields"]["status"]["name"] for i in issues] == ["In Progress"]
    )
    return linked if ready else None


async def test_an_incident_opens_both_tickets_takes_their_comments_and_resolves_them_when_closed(
    api: Api, aws: AwsClientFactory, itsm: ItsmFakes
) -> None:
    incident_id = await contained_incident(api, aws)
    linked = await wait_until(lambda: both_tickets_in_progress(api, itsm, incident_id), timeout_s=60)
    sys_id = linked["servicenow"]["ticket"]["external_id"]
    issue_key = linked["jira"]["ticket"]["external_key"]

    note = "Service desk: the owner of the host was called."
    assert await itsm.background.call(itsm.servicenow.ticket_side_update(sys_id, comment=note)) == 202
    assert await itsm.background.call(itsm.jira.ticket_side_comment(issue_key, "SRE rebuilds the host.")) == 202
    incident = await api.wait_incident(
        incident_id, lambda i: {c["source"] for c in i["comments"]} >= {"servicenow", "jira"}
    )
    assert [(c["author"], c["text"]) for c in incident["comments"] if c["source"] == "servicenow"] == [
        ("servicenow:beth.anglin", note)
    ]
    assert sum(1 for e in incident["timeline"] if e["kind"] == "external_update") == 2

    status, body = await api.call(
        "POST", "incident_response", f"/v1/incidents/{incident_id}/close", body={"resolution": "Host rebuilt."}
    )
    assert status == 200, body

    def sent_by_acso() -> list[str]:
        return [e.value for e in itsm.servicenow.journal.get(sys_id, []) if "(ACSO)" in e.value]

    def resolved() -> bool:
        [record] = servicenow_records(itsm, incident_id)
        [issue] = jira_issues(itsm, incident_id)
        relayed = any("SRE rebuilds the host." in v for v in sent_by_acso())  # Jira's comment, on ServiceNow
        return bool(record["state"] == "6" and issue["fields"]["status"]["name"] == "Done" and relayed)

    await wait_until(resolved, timeout_s=60)
    [record] = servicenow_records(itsm, incident_id)
    assert record["close_code"] == "Solution provided"
    assert record["close_notes"]
    assert not any(note in v for v in sent_by_acso())  # ServiceNow's own comment is not echoed back to it


async def test_resolving_the_servicenow_ticket_closes_the_incident_and_the_jira_issue(
    api: Api, aws: AwsClientFactory, itsm: ItsmFakes
) -> None:
    incident_id = await contained_incident(api, aws)
    linked = await wait_until(lambda: both_tickets_in_progress(api, itsm, incident_id), timeout_s=60)

    sys_id = linked["servicenow"]["ticket"]["external_id"]
    assert await itsm.background.call(itsm.servicenow.ticket_side_update(sys_id, state="6")) == 202
    incident = await api.wait_incident(incident_id, lambda i: i["status"] == "closed")

    changes = [e for e in incident["timeline"] if e["kind"] == "external_update"]
    assert [(e["actor"], e["data"]["status"]) for e in changes] == [("servicenow:beth.anglin", "closed")]
    assert incident["resolution"].startswith("closed in servicenow ticket")

    def jira_done() -> bool:
        [issue] = jira_issues(itsm, incident_id)
        return bool(issue["fields"]["status"]["name"] == "Done")

    await wait_until(jira_done, timeout_s=60)
    assert [r["state"] for r in servicenow_records(itsm, incident_id)] == ["6"]


async def test_a_failing_itsm_never_blocks_containment_and_its_retrying_sync_is_visible(
    api: Api, aws: AwsClientFactory, itsm: ItsmFakes
) -> None:
    await itsm.background.apply(lambda: itsm.servicenow.fail_next(503, times=100_000))
    try:
        incident_id = await contained_incident(api, aws)  # containment does not wait for tickets

        async def servicenow_failing() -> dict[str, Any] | None:
            linked = await tickets(api, incident_id)
            sn = linked.get("servicenow")
            return linked if sn and sn["sync"]["status"] == "failing" and sn["sync"]["attempts"] >= 2 else None

        linked = await wait_until(servicenow_failing, timeout_s=60)
    finally:
        await itsm.background.apply(itsm.servicenow._failures.clear)  # ServiceNow is back

    assert linked["servicenow"]["sync"]["last_error"].startswith("itsm_unavailable")
    assert linked["servicenow"]["sync"]["next_retry_at"] is not None
    assert linked["jira"]["sync"]["status"] == "synced"
    await wait_until(lambda: both_tickets_in_progress(api, itsm, incident_id), timeout_s=60)
    assert len(servicenow_records(itsm, incident_id)) == 1
