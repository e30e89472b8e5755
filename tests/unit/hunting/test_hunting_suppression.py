"""Suppressions: deployment tools and AWS services are expected noise; everything else still alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acso_shared.errors import Invalid
from acso_shared.hunting.pack import RulePack, load_builtin_rules
from acso_shared.hunting.suppression import DEFAULT_SUPPRESSIONS, Suppression, Suppressions
from tests.fixtures.cloudtrail.samples import (
    ACCOUNT,
    TERRAFORM_UA,
    assumed_role,
    aws_service,
    iam_user,
    record,
)

pytestmark = pytest.mark.unit

CT = "cloudtrail.amazonaws.com"
TRAIL_RULE = "49f669e8-9e88-4bb4-b6ba-9685c8f9cdb7"
SECRETS_BURST = "e01ebada-1ea0-402d-aaf2-89109c97440a"


def _delete_trail(**extra: object) -> dict:
    return record(CT, "DeleteTrail", {"name": "org-trail"}, **extra)


def _rule_ids(pack: RulePack, records: list[dict]) -> list[str]:
    return [h.rule_id for h in pack.evaluate(records)]


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_builtin_rules()


@pytest.mark.parametrize(
    ("who", "extra"),
    [
        ("Terraform", {"userAgent": TERRAFORM_UA}),
        (
            "CloudFormation",
            {"userAgent": "cloudformation.amazonaws.com", "sourceIPAddress": "cloudformation.amazonaws.com"},
        ),
        ("CDK CLI", {"userAgent": "aws-cdk/2.160.0 (+https://github.com/aws/aws-cdk) aws-sdk-js/3.632.0 os/linux"}),
        (
            "CDK execution role",
            {"identity": assumed_role("cdk-hnb659fds-cfn-exec-role-111122223333-us-east-1", "AWSCloudFormation")},
        ),
        ("Pulumi", {"userAgent": "aws-sdk-go/1.55.5 (go1.22.7; linux; amd64) APN/1.0 pulumi/1.0 pulumi-aws/6.54.0"}),
        ("an AWS service", {"identity": aws_service("cloudtrail.amazonaws.com")}),
        (
            "a call on a principal's behalf",
            {"identity": assumed_role("admin", "a", invoked_by="cloudformation.amazonaws.com")},
        ),
        ("a service-linked role", {"identity": assumed_role("AWSServiceRoleForConfig", "AWSConfig")}),
        ("a GitHub Actions deployment", {"identity": assumed_role("deploy", "GitHubActions")}),
        ("a CodeBuild build", {"identity": assumed_role("build", "AWSCodeBuild-5f3c2b1a-0d4e-4c7b-9a1f-2e3d4c5b6a79")}),
    ],
)
def test_default_suppressions_silence_deployment_tools_and_aws_services(pack: RulePack, who: str, extra: dict) -> None:
    assert _rule_ids(pack, [_delete_trail(**extra)]) == [], who


def test_the_same_call_by_a_person_still_alerts(pack: RulePack) -> None:
    assert _rule_ids(pack, [_delete_trail()]) == [TRAIL_RULE]
    assert _rule_ids(pack, [_delete_trail(identity=assumed_role("admin", "alice"))]) == [TRAIL_RULE]


def test_suppressed_reads_do_not_count_towards_a_correlation(pack: RulePack) -> None:
    terraform = assumed_role("terraform", "tf-run")
    reads = [
        record(
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            {"secretId": f"prod/app-{i}"},
            identity=terraform,
            at=timedelta(seconds=i),
            userAgent=TERRAFORM_UA if i % 2 else "aws-cli/2.17.20",
        )
        for i in range(18)
    ]

    # only the nine reads without Terraform's user agent count: under the threshold of ten
    assert SECRETS_BURST not in _rule_ids(pack, reads)
    assert SECRETS_BURST in _rule_ids(RulePack([pack.get(SECRETS_BURST)], suppressions=Suppressions.none()), reads)


def test_a_per_rule_suppression_silences_that_rule_only() -> None:
    pack = load_builtin_rules()
    scanner = Suppression(
        id="cspm-scanner",
        reason="the CSPM tool's role reads trails and may stop them during its tests",
        rules=(TRAIL_RULE,),
        principal_arn=("arn:aws:iam::*:role/cspm-*",),
    )
    local = RulePack([pack.get(TRAIL_RULE)], suppressions=Suppressions.defaults(extra=[scanner]))
    session = assumed_role("cspm-scanner", "scan-42")

    assert _rule_ids(local, [_delete_trail(identity=session)]) == []
    assert _rule_ids(local, [_delete_trail(identity=assumed_role("admin", "x"))]) == [TRAIL_RULE]
    assert scanner.applies_to(_delete_trail(identity=session))


@pytest.mark.parametrize(
    ("criteria", "event_extra", "applies"),
    [
        ({"source_ip": ("10.0.0.0/8",)}, {"sourceIPAddress": "10.1.2.3"}, True),
        ({"source_ip": ("10.0.0.0/8",)}, {"sourceIPAddress": "203.0.113.9"}, False),
        ({"source_ip": ("10.0.0.0/8",)}, {"sourceIPAddress": "ec2.amazonaws.com"}, False),
        ({"source_ip": ("ssm.amazonaws.com",)}, {"sourceIPAddress": "ssm.amazonaws.com"}, True),
        ({"account": (ACCOUNT,)}, {}, True),
        ({"account": ("999988887777",)}, {}, False),
        ({"user_agent": ("*boto3*",)}, {"userAgent": "Boto3/1.35.0 md/Botocore#1.35.0"}, True),
        ({"user_agent": ("*boto3*",), "account": ("999988887777",)}, {"userAgent": "Boto3/1.35.0"}, False),
        ({"principal_arn": ("arn:aws:iam::*:role/deploy",)}, {"identity": assumed_role("deploy", "s")}, True),
        ({"principal_arn": ("arn:aws:iam::*:user/ci",)}, {"identity": iam_user("alice")}, False),
    ],
)
def test_every_criterion_must_match(criteria: dict, event_extra: dict, applies: bool) -> None:
    suppression = Suppression(id="s", reason="spec", **criteria)

    assert suppression.applies_to(_delete_trail(**event_extra)) is applies


def test_a_suppression_without_criteria_is_refused() -> None:
    with pytest.raises(Invalid) as err:
        Suppressions([Suppression(id="everything", reason="oops")])
    assert err.value.code == "suppression_unbounded"


def test_invalid_documents_are_a_clear_error() -> None:
    with pytest.raises(Invalid) as err:
        Suppressions.from_documents([{"id": "x", "reason": "r", "user_agnt": ["*"]}])
    assert err.value.code == "suppression_invalid"


def test_defaults_can_be_dropped_by_name_and_unknown_names_are_refused() -> None:
    without = Suppressions.defaults(without=["terraform"])

    assert len(without) == len(DEFAULT_SUPPRESSIONS) - 1
    assert RulePack([load_builtin_rules().get(TRAIL_RULE)], suppressions=without).evaluate(
        [_delete_trail(userAgent=TERRAFORM_UA)]
    )
    with pytest.raises(Invalid):
        Suppressions.defaults(without=["no-such-default"])


def test_every_default_says_why_it_exists() -> None:
    assert all(d.reason and d.criteria for d in DEFAULT_SUPPRESSIONS)


def test_a_suppressions_file_adds_to_the_defaults(tmp_path) -> None:
    path = tmp_path / "suppressions.yml"
    path.write_text(
        "suppressions:\n"
        "  - id: cspm-scanner\n"
        "    reason: the CSPM tool's role lists every region\n"
        "    principal_arn: ['arn:aws:sts::*:assumed-role/cspm-*']\n"
        "    rules: ['9b8aa233-020a-492e-bbde-1130c1902f02']\n"
    )

    loaded = Suppressions.from_file(path)
    alone = Suppressions.from_file(path, defaults=False)

    assert len(loaded) == len(DEFAULT_SUPPRESSIONS) + 1
    assert [s.id for s in alone.items] == ["cspm-scanner"]
    assert len(Suppressions.from_file(None)) == len(DEFAULT_SUPPRESSIONS)
    assert len(Suppressions.from_file(None, defaults=False)) == 0


@pytest.mark.parametrize("text", ["- just a string\n", "suppressions: 3\n", "a: [unclosed\n"])
def test_a_malformed_suppressions_file_is_a_clear_error(tmp_path, text: str) -> None:
    path = tmp_path / "suppressions.yml"
    path.write_text(text)

    with pytest.raises(Invalid) as err:
        Suppressions.from_file(path)
    assert err.value.code == "suppression_invalid"
