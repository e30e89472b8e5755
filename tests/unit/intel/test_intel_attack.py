"""The ATT&CK cloud catalog: the shipped file, its look-ups, and the build from MITRE's bundle."""

import json
from pathlib import Path

import pytest

from acso_shared.errors import NotFound
from acso_threat_hunter.attack.catalog import TECHNIQUE_ID, load_catalog
from devtools.build_attack_data import build

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


def test_a_cloudtrail_event_maps_to_techniques_most_specific_first():
    found = load_catalog().for_cloudtrail_event("cloudtrail.amazonaws.com", "StopLogging")
    assert [t.id for t in found] == ["T1562.008"]


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
    assert by_id["T1078.004"]["aws"] == AWS_SIGNIN
    assert "T1003" in by_id  # mapped, so kept though not an IaaS technique
    assert by_id["T1078"]["aws"] is None
    assert missing == ["T1666"]


def test_the_shipped_overlay_and_catalog_agree():
    data_dir = Path(__file__).parents[3] / "services/threat_hunter/acso_threat_hunter/attack/data"
    overlay = json.loads((data_dir / "aws_overlay.json").read_text())["techniques"]
    assert {t.id: t.aws.model_dump() if t.aws else None for t in load_catalog().techniques()} == overlay
