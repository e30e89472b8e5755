"""Format recognition without hints, batches, and whole-payload rejection."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from acso_shared.alerts import SourceFormat, normalize_payload
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "source", "fmt"),
    [
        ("guardduty_tor_ip_caller.json", "aws.guardduty", SourceFormat.GUARDDUTY_FINDING),
        ("guardduty_tor_ip_caller_eventbridge.json", "aws.guardduty", SourceFormat.GUARDDUTY_EVENTBRIDGE),
        ("guardduty_instance_credential_exfiltration.json", "aws.guardduty", SourceFormat.GUARDDUTY_FINDING),
        ("guardduty_bitcoin_tool_dns.json", "aws.guardduty", SourceFormat.GUARDDUTY_FINDING),
        ("guardduty_s3_block_public_access_disabled.json", "aws.guardduty", SourceFormat.GUARDDUTY_FINDING),
        ("asff_finding.json", "aws.securityhub", SourceFormat.ASFF),
        ("ocsf_detection_finding.json", "ocsf", SourceFormat.OCSF_DETECTION_FINDING),
        ("splunk_webhook.json", "splunk", SourceFormat.SPLUNK_WEBHOOK),
        ("generic_alert.json", "generic", SourceFormat.ACSO_GENERIC),
    ],
)
def test_each_single_alert_format_is_recognised_without_hints(normalize_one, name, source, fmt):
    alert = normalize_one(name)

    assert (alert.source, alert.source_format) == (source, fmt)
    assert alert.class_uid == 2004


def test_security_hub_event_with_two_findings_yields_two_alerts_each_keeping_only_its_finding(payload):
    event = payload("securityhub_findings_imported.json")

    alerts = normalize_payload(event)

    assert [a.source_format for a in alerts] == [SourceFormat.SECURITYHUB_EVENTBRIDGE] * 2
    assert [a.raw["detail"]["findings"][0]["Id"] for a in alerts] == [f["Id"] for f in event["detail"]["findings"]]
    assert all(len(a.raw["detail"]["findings"]) == 1 for a in alerts)


def test_security_hub_v2_event_carries_ocsf_findings_attributed_to_security_hub(payload):
    finding = payload("ocsf_detection_finding.json")
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "Findings Imported V2",
        "source": "aws.securityhub",
        "account": "123456789012",
        "time": "2026-11-20T14:26:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"findings": [finding]},
    }

    (alert,) = normalize_payload(event)

    assert (alert.source, alert.source_format) == ("aws.securityhub", SourceFormat.SECURITYHUB_V2_EVENTBRIDGE)
    assert alert.title == "Reverse shell spawned by nginx worker"


def test_a_json_array_of_mixed_formats_is_a_batch(payload):
    alerts = normalize_payload(payload("batch.json"))

    assert [a.source for a in alerts] == ["aws.guardduty", "splunk", "generic"]


@pytest.mark.parametrize("key", ["alerts", "Findings"])
def test_an_object_wrapping_a_list_is_a_batch(payload, key):
    alerts = normalize_payload({key: [payload("asff_finding.json"), payload("generic_alert.json")]})

    assert [a.source for a in alerts] == ["aws.securityhub", "generic"]


@pytest.mark.parametrize(
    ("name", "code", "fragments"),
    [
        ("unknown_format.json", "alert_format_unknown", ["item 0", "'hello'"]),
        ("not_an_object.json", "alert_format_unknown", ["not str"]),
        ("eventbridge_not_an_alert.json", "alert_format_unknown", ["'aws.ec2'", "EC2 Instance State-change"]),
        ("ocsf_wrong_class.json", "alert_format_unknown", ["class_uid 3002"]),
        ("guardduty_bad_severity.json", "alert_invalid", ["item 0 (severity)"]),
        ("securityhub_second_finding_without_severity.json", "alert_invalid", ["item 0 (detail.findings[1].Severity)"]),
        ("generic_naive_timestamp.json", "alert_invalid", ["item 0 (occurred_at)", "time zone"]),
        ("batch_item_1_invalid.json", "alert_invalid", ["item 1 (observables[0].value)", "198.51.100.999"]),
        ("empty_batch.json", "batch_empty", ["no alerts"]),
    ],
)
def test_malformed_fixture_is_rejected_with_its_code_and_location(payload, name, code, fragments):
    with pytest.raises(Invalid) as caught:
        normalize_payload(payload(f"malformed/{name}"))

    assert caught.value.code == code
    assert caught.value.status == 400
    for fragment in fragments:
        assert fragment in caught.value.message


def test_every_bad_item_of_a_batch_is_listed_in_the_error_details(payload):
    good = payload("generic_alert.json")
    batch = [good, {"nope": 1}, good, "text"]

    with pytest.raises(Invalid) as caught:
        normalize_payload(batch)

    assert [e["item"] for e in caught.value.details["errors"]] == [1, 3]
    assert "1 more item(s) invalid" in caught.value.message


def test_a_batch_over_the_limit_is_rejected_before_parsing(payload):
    batch = [payload("generic_alert.json")] * 4

    with pytest.raises(Invalid) as caught:
        normalize_payload(batch, max_items=3)

    assert caught.value.code == "batch_too_large"
    assert "4 items" in caught.value.message


def test_the_limit_also_counts_findings_unwrapped_from_events(payload):
    event = payload("securityhub_findings_imported.json")

    with pytest.raises(Invalid) as caught:
        normalize_payload([event, event], max_items=3)

    assert caught.value.code == "batch_too_large"
    assert "4 findings" in caught.value.message


def test_the_default_limit_is_500_items(payload):
    alert = payload("generic_alert.json")

    assert len(normalize_payload([alert] * 500)) == 500
    with pytest.raises(Invalid):
        normalize_payload([alert] * 501)


@pytest.mark.parametrize(
    "item",
    [[{"schema": "acso.alert/v1"}], {"alerts": []}],
    ids=["nested-array", "nested-batch"],
)
def test_nested_batches_are_rejected(item):
    with pytest.raises(Invalid) as caught:
        normalize_payload([item])

    assert caught.value.code == "alert_format_unknown"
    assert "nested" in caught.value.message


def test_an_eventbridge_guardduty_event_whose_detail_is_not_a_finding_is_invalid(payload):
    event: dict[str, Any] = payload("guardduty_tor_ip_caller_eventbridge.json")
    del event["detail"]["service"]

    with pytest.raises(Invalid) as caught:
        normalize_payload(event)

    assert caught.value.code == "alert_invalid"
    assert "(detail)" in caught.value.message


def test_an_asff_finding_with_another_schema_version_is_invalid(payload):
    finding = payload("asff_finding.json")
    finding["SchemaVersion"] = "2019-01-01"

    with pytest.raises(Invalid) as caught:
        normalize_payload(finding)

    assert caught.value.code == "alert_invalid"
    assert "SchemaVersion" in caught.value.message


def test_a_generic_alert_of_an_unknown_schema_version_is_invalid(payload):
    alert = payload("generic_alert.json")
    alert["schema"] = "acso.alert/v9"

    with pytest.raises(Invalid) as caught:
        normalize_payload(alert)

    assert caught.value.code == "alert_invalid"
    assert "acso.alert/v1" in caught.value.message


def test_the_input_payload_is_not_modified(payload):
    event = payload("securityhub_findings_imported.json")
    before = copy.deepcopy(event)

    normalize_payload(event)

    assert event == before


def test_the_alert_keeps_the_original_payload_as_raw(normalize_one, payload: Callable[[str], Any]):
    alert = normalize_one("splunk_webhook.json")

    assert alert.raw == payload("splunk_webhook.json")


def test_an_eventbridge_detail_type_of_the_wrong_type_is_an_unknown_format_not_a_crash(payload):
    event = payload("guardduty_tor_ip_caller_eventbridge.json")
    event["detail-type"] = ["GuardDuty Finding"]

    with pytest.raises(Invalid) as caught:
        normalize_payload(event)

    assert caught.value.code == "alert_format_unknown"
