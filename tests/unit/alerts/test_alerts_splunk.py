"""Splunk webhook alert action payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acso_shared.alerts import ObservableType, ResourceType, SeverityId, SeverityLabel, normalize_payload

pytestmark = pytest.mark.unit


def test_search_name_is_the_type_and_the_rule_title_the_title(normalize_one):
    alert = normalize_one("splunk_webhook.json")

    assert alert.type == "AWS - Console Login From Tor Exit Node"
    assert alert.title == "AWS console login from Tor exit node by ops-admin"
    assert alert.source_id.startswith("scheduler__admin__search__")


def test_cim_and_cloudtrail_fields_become_observables(normalize_one):
    alert = normalize_one("splunk_webhook.json")

    assert alert.observables_of(ObservableType.IP) == ["198.51.100.23"]
    assert alert.observables_of(ObservableType.PRINCIPAL) == ["arn:aws:iam::123456789012:user/ops-admin", "ops-admin"]
    assert alert.observables_of(ObservableType.ACCESS_KEY_ID) == ["AKIAI44QH8DHBEXAMPLE"]
    assert [(r.type, r.id) for r in alert.resources] == [(ResourceType.IAM_ACCESS_KEY, "AKIAI44QH8DHBEXAMPLE")]


def test_multi_value_technique_field_is_read_in_full(normalize_one):
    assert normalize_one("splunk_webhook.json").attack_techniques == ["T1078.004", "T1090.003"]


def test_urgency_gives_the_severity_and_epoch_fields_the_times(normalize_one):
    alert = normalize_one("splunk_webhook.json")

    assert alert.severity.label is SeverityLabel.HIGH
    assert alert.occurred_at == datetime(2026, 11, 20, 15, 45, 32, tzinfo=UTC)
    assert alert.first_seen == datetime(2026, 11, 20, 15, 40, tzinfo=UTC)


def test_a_row_without_time_or_severity_uses_receive_time_and_unknown(payload, received_at):
    hook = payload("splunk_webhook.json")
    for key in ("_time", "firstTime", "lastTime", "urgency"):
        del hook["result"][key]

    (alert,) = normalize_payload(hook, received_at=received_at)

    assert alert.occurred_at == received_at
    assert alert.severity.id is SeverityId.UNKNOWN


def test_untyped_cim_fields_are_classified_by_value(payload):
    hook = payload("splunk_webhook.json")
    hook["result"].update(dest="db-1.corp.example.com", src="192.0.2.10", file_hash="D41D8CD98F00B204E9800998ECF8427E")

    (alert,) = normalize_payload(hook)

    assert alert.observables_of(ObservableType.DOMAIN) == ["db-1.corp.example.com"]
    assert "192.0.2.10" in alert.observables_of(ObservableType.IP)
    assert alert.observables_of(ObservableType.HASH_MD5) == ["d41d8cd98f00b204e9800998ecf8427e"]
    assert (ResourceType.HOST, "db-1.corp.example.com") in {(r.type, r.id) for r in alert.resources}


def test_an_ad_hoc_search_without_a_name_is_still_accepted(payload):
    hook = payload("splunk_webhook.json")
    hook["search_name"] = None
    del hook["result"]["rule_title"]

    (alert,) = normalize_payload(hook)

    assert alert.type == "splunk_adhoc_search"
    assert alert.title == f"Splunk alert {hook['sid']}"


def test_two_rows_of_one_search_run_are_two_alerts_but_a_redelivery_is_the_same(payload):
    first = payload("splunk_webhook.json")
    second = payload("splunk_webhook.json")
    second["result"]["src_ip"] = "198.51.100.24"

    a, b, again = normalize_payload([first, second, payload("splunk_webhook.json")])

    assert a.alert_id != b.alert_id
    assert a.alert_id == again.alert_id


def test_host_and_dest_become_host_resources_and_raw_ips_observables(payload):
    hook = payload("splunk_webhook.json")
    hook["result"].update(
        sourcetype="WinEventLog:Security",
        host="WKS-0042",
        dest="10.0.5.17",
        _raw="An account failed to log on. Source Network Address: 203.0.113.50 Port: 51234",
    )
    del hook["result"]["description"]

    (alert,) = normalize_payload(hook)

    assert (ResourceType.HOST, "wks-0042") in {(r.type, r.id) for r in alert.resources}
    assert "10.0.5.17" in alert.observables_of(ObservableType.IP)
    assert "203.0.113.50" in alert.observables_of(ObservableType.IP)
    assert alert.description.startswith("An account failed to log on.")


def test_the_collector_host_of_an_api_sourcetype_is_not_a_resource(payload):
    hook = payload("splunk_webhook.json")
    hook["result"]["host"] = "splunk-hf-01"

    (alert,) = normalize_payload(hook)

    assert all(r.type is not ResourceType.HOST for r in alert.resources)


def test_the_row_s_event_address_identifies_it_within_the_search_run(payload):
    first = payload("splunk_webhook.json")
    first["result"]["_cd"] = "42:1337"
    changed = payload("splunk_webhook.json")
    changed["result"].update(_cd="42:1337", count="4")

    a, b = normalize_payload([first, changed])

    assert a.source_id == f"{first['sid']}:_cd=42:1337"
    assert a.alert_id == b.alert_id
    assert a.detection == "AWS - Console Login From Tor Exit Node"
