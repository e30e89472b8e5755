"""Pure logic of incident response: playbook selection, targets, the policy, SLA clocks, transitions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from acso_incident_response.lifecycle import check_transition
from acso_incident_response.playbook import load_playbooks, parse_playbook, select_playbook
from acso_incident_response.policy import evaluate
from acso_incident_response.settings import Settings
from acso_incident_response.sla import timer
from acso_incident_response.targets import Target, TargetKind, targets_of
from acso_shared.alerts.models import (
    NormalizedAlert,
    Observable,
    ObservableType,
    Resource,
    ResourceType,
    Severity,
    SeverityId,
    SeverityLabel,
    SourceFormat,
)
from acso_shared.errors import Conflict, Invalid

pytestmark = pytest.mark.unit

BOOKS = load_playbooks()
SETTINGS = Settings(allowed_account_ids=("123456789012",), blast_radius_max_actions=3)


def _alert(resources: list[Resource], observables: list[Observable]) -> NormalizedAlert:
    now = datetime.now(UTC)
    return NormalizedAlert(
        alert_id=uuid.uuid4(),
        source="aws.guardduty",
        source_format=SourceFormat.GUARDDUTY_FINDING,
        title="t",
        type="Recon:EC2/PortProbeUnprotectedPort",
        severity=Severity(id=SeverityId.HIGH, label=SeverityLabel.HIGH),
        occurred_at=now,
        first_seen=now,
        last_seen=now,
        account_id="123456789012",
        resources=resources,
        observables=observables,
        raw={},
    )


@pytest.mark.parametrize(
    ("finding_type", "techniques", "expected"),
    [
        ("UnauthorizedAccess:EC2/TorClient", [], "compromised-ec2-instance"),
        ("CryptoCurrency:EC2/BitcoinTool.B!DNS", [], "crypto-mining"),
        ("CredentialAccess:IAMUser/AnomalousBehavior", [], "compromised-iam-access-key"),
        ("Recon:EC2/PortProbeUnprotectedPort", [], "malicious-ip"),
        ("Policy:S3/BucketBlockPublicAccessDisabled", [], "exposed-s3-bucket"),
        ("Custom:Anything/Else", ["T1496"], "crypto-mining"),
    ],
)
def test_the_best_matching_playbook_is_selected(finding_type: str, techniques: list[str], expected: str) -> None:
    book = select_playbook(BOOKS, finding_type, techniques)
    assert book is not None
    assert book.id == expected


def test_no_playbook_is_selected_for_an_unknown_finding() -> None:
    assert select_playbook(BOOKS, "Custom:Nothing/Known", ["T9999"]) is None


def test_a_playbook_naming_an_unknown_action_is_rejected() -> None:
    text = (
        "id: bad\nname: Bad\nmatch: {finding_types: ['x']}\nsteps:\n"
        "  - {id: s, action: ec2.explode, target: ec2_instance}\n"
    )
    with pytest.raises(Invalid) as caught:
        parse_playbook(text, "bad.yaml")
    assert caught.value.code == "playbook_invalid"


def test_a_step_may_only_wait_for_steps_listed_before_it() -> None:
    text = (
        "id: bad\nname: Bad\nmatch: {finding_types: ['x']}\nsteps:\n"
        "  - {id: a, action: ec2.tag, target: ec2_instance, after: [b]}\n"
        "  - {id: b, action: ec2.stop, target: ec2_instance}\n"
    )
    with pytest.raises(Invalid):
        parse_playbook(text, "bad.yaml")


def test_ip_targets_are_public_remote_addresses_only() -> None:
    alert = _alert(
        [],
        [
            Observable(type=ObservableType.IP, value="45.9.8.7", name="service.action.remoteIpDetails"),
            Observable(type=ObservableType.IP, value="10.0.0.5", name="service.action.localIpDetails"),
            Observable(type=ObservableType.IP, value="54.1.2.3", name="resource.instanceDetails.publicIp"),
            Observable(type=ObservableType.IP, value="45.9.8.7", name="service.evidence"),
        ],
    )
    assert [t.key for t in targets_of(alert, TargetKind.IP)] == ["ip:45.9.8.7"]


def test_an_access_key_target_carries_its_user() -> None:
    alert = _alert(
        [
            Resource(type=ResourceType.IAM_ACCESS_KEY, id="AKIAEXAMPLE"),
            Resource(type=ResourceType.IAM_USER, id="alice"),
        ],
        [],
    )
    [target] = targets_of(alert, TargetKind.IAM_ACCESS_KEY)
    assert (target.id, target.user_name, target.account_id) == ("AKIAEXAMPLE", "alice", "123456789012")


def test_the_policy_allows_an_in_scope_unprotected_resource() -> None:
    decision = evaluate(SETTINGS, Target(TargetKind.EC2_INSTANCE, "i-1", "123456789012"), {}, actions_in_incident=0)
    assert decision.allowed


@pytest.mark.parametrize(
    ("target", "tags", "count", "code"),
    [
        (Target(TargetKind.EC2_INSTANCE, "i-1", "123456789012"), {"acso:protected": "true"}, 0, "resource_protected"),
        (Target(TargetKind.EC2_INSTANCE, "i-1", "123456789012"), {"acso:protected": "TRUE "}, 0, "resource_protected"),
        (Target(TargetKind.EC2_INSTANCE, "i-1", "999999999999"), {}, 0, "account_not_allowed"),
        (Target(TargetKind.EC2_INSTANCE, "i-1", None), {}, 0, "account_unknown"),
        (Target(TargetKind.EC2_INSTANCE, "i-1", "123456789012"), {}, 3, "blast_radius_exceeded"),
    ],
)
def test_the_policy_blocks_what_is_out_of_scope(target: Target, tags: dict[str, str], count: int, code: str) -> None:
    decision = evaluate(SETTINGS, target, tags, actions_in_incident=count)
    assert not decision.allowed
    assert decision.code == code


def test_an_sla_clock_is_met_running_or_breached() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert timer(60, start, start + timedelta(seconds=30), start + timedelta(hours=1)).state == "met"
    assert timer(60, start, None, start + timedelta(seconds=30)).state == "running"
    assert timer(60, start, None, start + timedelta(seconds=61)).state == "breached"
    assert timer(60, start, start + timedelta(seconds=90), start + timedelta(hours=1)).state == "breached"
    assert timer(None, start, None, start).state == "none"


def test_sla_targets_depend_on_severity() -> None:
    assert SETTINGS.sla_seconds("triage", "critical") < SETTINGS.sla_seconds("triage", "low")  # type: ignore[operator]
    assert SETTINGS.sla_seconds("contain", "informational") is None


def test_statuses_only_move_forward_and_closed_is_final() -> None:
    check_transition("triaged", "contained")
    with pytest.raises(Conflict) as back:
        check_transition("contained", "triaged")
    assert back.value.code == "invalid_transition"
    with pytest.raises(Conflict) as closed:
        check_transition("closed", "recovered")
    assert closed.value.code == "incident_closed"


def test_a_technique_match_needs_something_in_the_alert_the_playbook_can_act_on() -> None:
    # T1078 is an access-key playbook technique, but the alert names only an instance.
    chosen = select_playbook(BOOKS, "network.ssh_bruteforce.outbound", ["T1078"], [TargetKind.EC2_INSTANCE])
    assert chosen is None or any(step.target is TargetKind.EC2_INSTANCE for step in chosen.steps)
    assert select_playbook(BOOKS, "network.ssh_bruteforce.outbound", ["T1078"], [TargetKind.IAM_ACCESS_KEY]) is not None
