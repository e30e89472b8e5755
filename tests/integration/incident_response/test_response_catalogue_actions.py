"""Specs of the response catalogue's actions against the emulator: each resource's state before the
action, after it, and after its revert (where the catalogue says it reverts), read with the AWS APIs."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.targets import TargetKind
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.errors import Conflict, Invalid
from tests.integration.incident_response.catalogue_support import (
    bucket,
    context,
    db_instance,
    ecs_task,
    eks_cluster,
    ingress_of,
    lambda_function,
    run_action,
    security_group,
    target,
    unique,
    vpc_with_subnet,
)
from tests.integration.incident_response.ir_support import ACCOUNT
from tests.support.stack import TestStack

pytestmark = pytest.mark.integration

WORLD_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
WORLD_HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
OFFICE_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "198.51.100.0/24"}]}


# ---- GuardDuty families ----------------------------------------------------------------------


async def test_an_ecs_task_is_captured_as_evidence_and_then_stopped(stack: TestStack, aws: AwsClientFactory) -> None:
    ctx = context(stack, aws)
    task_arn, cluster = await ecs_task(aws)
    task = target(TargetKind.ECS_TASK, task_arn)

    evidence = await ACTIONS["ecs.capture_task"].current(ctx, task, {})
    assert evidence["task_arn"] == task_arn
    assert evidence["containers"][0]["image"] == "public.ecr.aws/nginx/nginx:1.27"
    assert evidence["launch_type"] == "EC2"
    assert evidence["network_interface"] is None

    stopped = await run_action(ctx, "ecs.stop_task", task, revert=False)
    assert stopped.before["desired_status"] == "RUNNING"
    ecs = await aws.client("ecs")
    described = (await ecs.describe_tasks(cluster=cluster, tasks=[task_arn]))["tasks"][0]
    assert described["desiredStatus"] == "STOPPED"
    assert not ACTIONS["ecs.stop_task"].revertible


async def test_a_task_without_its_own_interface_cannot_be_network_quarantined(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    task_arn, _ = await ecs_task(aws)
    with pytest.raises(Invalid, match="no network interface of its own"):
        await ACTIONS["ecs.quarantine_task_network"].current(ctx, target(TargetKind.ECS_TASK, task_arn), {})


async def test_an_eks_cluster_is_tagged_and_its_public_endpoint_restricted_then_both_revert(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    name = await eks_cluster(aws)
    cluster = target(TargetKind.EKS_CLUSTER, name)
    eks = await aws.client("eks")

    tagged = await run_action(ctx, "eks.tag_cluster", cluster, {"tags": {"acso:containment": "investigating"}})
    assert tagged.after["tags"] == {"acso:containment": "investigating", "acso:incident": ctx.incident_id}
    assert "acso:incident" not in (await eks.describe_cluster(name=name))["cluster"].get("tags", {})

    run = await run_action(ctx, "eks.restrict_public_endpoint", cluster, {"cidrs": ["203.0.113.0/24"]})
    assert run.preview == {"publicAccessCidrs": {"from": ["0.0.0.0/0"], "to": ["203.0.113.0/24"]}}
    assert run.after["settings"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    config = (await eks.describe_cluster(name=name))["cluster"]["resourcesVpcConfig"]
    assert config["publicAccessCidrs"] == ["0.0.0.0/0"]


async def test_an_rds_instance_is_snapshotted_its_managed_secret_rotated_and_it_is_isolated(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    name, group = await db_instance(aws, managed_secret=True)
    db = target(TargetKind.RDS_INSTANCE, name)
    rds = await aws.client("rds")

    snap = await run_action(ctx, "rds.snapshot_instance", db, revert=False)
    snapshots = (await rds.describe_db_snapshots(DBInstanceIdentifier=name, SnapshotType="manual"))["DBSnapshots"]
    assert snap.after["snapshot"] in [s["DBSnapshotIdentifier"] for s in snapshots]

    secret = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"][0]["MasterUserSecret"][
        "SecretArn"
    ]
    secrets = await aws.client("secretsmanager")
    versions_before = {v["VersionId"] for v in (await secrets.list_secret_version_ids(SecretId=secret))["Versions"]}
    rotated = await run_action(ctx, "rds.rotate_master_credential", db, revert=False)
    assert rotated.before == {"managed_secret": secret, "rotated": False}
    versions_after = {v["VersionId"] for v in (await secrets.list_secret_version_ids(SecretId=secret))["Versions"]}
    assert len(versions_after - versions_before) == 1

    isolated = await run_action(ctx, "rds.isolate", db)
    assert isolated.before["groups"] == [group]
    assert isolated.after["groups"] == [isolated.after["quarantine_group"]]
    found = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"][0]["VpcSecurityGroups"]
    assert [g["VpcSecurityGroupId"] for g in found] == [group]


async def test_an_rds_instance_without_a_managed_secret_switches_to_one(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    name, _ = await db_instance(aws)
    run = await run_action(ctx, "rds.rotate_master_credential", target(TargetKind.RDS_INSTANCE, name), revert=False)
    assert run.before == {"managed_secret": None, "rotated": False}
    rds = await aws.client("rds")
    instance = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"][0]
    assert instance["MasterUserSecret"]["SecretArn"]


async def test_a_lambda_function_is_kept_as_a_version_throttled_and_loses_its_public_url(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    name = await lambda_function(aws)
    fn = target(TargetKind.LAMBDA_FUNCTION, name)
    client = await aws.client("lambda")

    evidence = await run_action(ctx, "lambda.publish_evidence_version", fn, revert=False)
    versions = [v["Version"] for v in (await client.list_versions_by_function(FunctionName=name))["Versions"]]
    assert evidence.after["version"] in versions
    assert evidence.after["version"] != "$LATEST"

    throttled = await run_action(ctx, "lambda.throttle", fn)
    assert throttled.before["settings"] == {"ReservedConcurrentExecutions": None}
    assert throttled.after["settings"] == {"ReservedConcurrentExecutions": 0}
    assert "ReservedConcurrentExecutions" not in await client.get_function_concurrency(FunctionName=name)

    await client.create_function_url_config(FunctionName=name, AuthType="NONE")
    removed = await run_action(ctx, "lambda.remove_public_url", fn)
    assert removed.before["config"]["AuthType"] == "NONE"
    assert removed.after == {"url": None}
    assert (await client.get_function_url_config(FunctionName=name))["AuthType"] == "NONE"


async def test_a_malicious_s3_object_is_tagged_and_moved_to_quarantine_keeping_its_version(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    name = await bucket(aws, versioned=True)
    s3 = await aws.client("s3")
    version = (await s3.put_object(Bucket=name, Key="uploads/invoice.pdf", Body=b"%PDF malware"))["VersionId"]
    obj = target(TargetKind.S3_OBJECT, f"{name}/uploads/invoice.pdf")

    tagged = await run_action(ctx, "s3.tag_object", obj, {"tags": {"acso:malware": "detected"}}, revert=False)
    assert tagged.after["tags"] == {"acso:incident": ctx.incident_id, "acso:malware": "detected"}

    run = await run_action(ctx, "s3.quarantine_object", obj, revert=False)
    quarantine_key = f"acso-quarantine/{ctx.incident_id}/uploads/invoice.pdf"
    assert run.before["version_id"] == version
    copy = await s3.get_object(Bucket=name, Key=quarantine_key)
    assert await copy["Body"].read() == b"%PDF malware"
    copy_tags = {t["Key"]: t["Value"] for t in (await s3.get_object_tagging(Bucket=name, Key=quarantine_key))["TagSet"]}
    assert copy_tags == {"acso:quarantine": "true", "acso:incident": ctx.incident_id, "acso:source-version": version}
    kept = (await s3.list_object_versions(Bucket=name, Prefix="uploads/"))["Versions"]
    assert [v["VersionId"] for v in kept] == [version]

    await ACTIONS["s3.quarantine_object"].revert(ctx, obj, run.before)
    restored = await s3.get_object(Bucket=name, Key="uploads/invoice.pdf")
    assert await restored["Body"].read() == b"%PDF malware"
    assert "Contents" not in await s3.list_objects_v2(Bucket=name, Prefix="acso-quarantine/")


# ---- Security Hub remediations ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "rules", "left"),
    [
        (
            {"ports": [22]},
            [WORLD_SSH, WORLD_HTTPS, OFFICE_SSH],
            [("tcp", 22, 22, "198.51.100.0/24"), ("tcp", 443, 443, "0.0.0.0/0")],
        ),
        ({"ports": "high_risk"}, [WORLD_SSH, WORLD_HTTPS], [("tcp", 443, 443, "0.0.0.0/0")]),
        ({"allowed_ports": [80, 443]}, [WORLD_SSH, WORLD_HTTPS], [("tcp", 443, 443, "0.0.0.0/0")]),
    ],
    ids=["EC2.13", "EC2.19", "EC2.18"],
)
async def test_world_open_ingress_the_control_forbids_is_revoked_and_comes_back_on_revert(
    stack: TestStack,
    aws: AwsClientFactory,
    params: dict[str, Any],
    rules: list[dict[str, Any]],
    left: list[tuple[str, int, int, str]],
) -> None:
    ctx = context(stack, aws)
    vpc, _ = await vpc_with_subnet(aws)
    group = await security_group(aws, vpc, rules)
    before = await ingress_of(aws, group)

    run = await run_action(
        ctx, "ec2.revoke_open_ingress", target(TargetKind.SECURITY_GROUP, group), params, revert=False
    )
    assert run.preview["revoke_ingress"]
    assert await ingress_of(aws, group) == left

    await ACTIONS["ec2.revoke_open_ingress"].revert(ctx, target(TargetKind.SECURITY_GROUP, group), run.before)
    assert await ingress_of(aws, group) == before


async def test_the_default_security_group_loses_every_rule_and_gets_them_back(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    vpc, _ = await vpc_with_subnet(aws)
    ec2 = await aws.client("ec2")
    default = (
        await ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
        )
    )["SecurityGroups"][0]
    assert default["IpPermissionsEgress"]
    run = await run_action(ctx, "ec2.remove_default_group_rules", target(TargetKind.SECURITY_GROUP, default["GroupId"]))
    assert run.after == {"ingress": [], "egress": []}
    assert run.reverted is not None
    assert run.reverted["egress"] == run.before["egress"]


async def test_a_non_default_group_is_refused_by_the_default_group_remediation(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    vpc, _ = await vpc_with_subnet(aws)
    group = await security_group(aws, vpc, [WORLD_SSH])
    with pytest.raises(Exception, match="default"):
        await ACTIONS["ec2.remove_default_group_rules"].current(ctx, target(TargetKind.SECURITY_GROUP, group), {})


async def test_bucket_controls_set_their_setting_and_revert_it(stack: TestStack, aws: AwsClientFactory) -> None:
    ctx = context(stack, aws)
    s3 = await aws.client("s3")
    name = await bucket(aws)
    b = target(TargetKind.S3_BUCKET, name)

    tls = await run_action(ctx, "s3.require_tls", b)
    assert tls.before == {"policy": None, "tls_only": False}
    assert tls.reverted == tls.before
    assert tls.after["policy"]["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    lifecycle = await run_action(ctx, "s3.set_lifecycle_policy", b, {"days": 30})
    assert lifecycle.after["rules"][0]["Transitions"][0]["StorageClass"] == "INTELLIGENT_TIERING"
    assert lifecycle.reverted == {"rules": None}

    logging = await run_action(ctx, "s3.enable_access_logging", b, revert=False)
    destination = logging.after["logging"]["TargetBucket"]
    assert destination == f"acso-{ctx.settings.env}-security-logs-{ACCOUNT}-us-east-1"
    assert (await s3.get_public_access_block(Bucket=destination))["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    await ACTIONS["s3.enable_access_logging"].revert(ctx, b, logging.before)
    assert "LoggingEnabled" not in await s3.get_bucket_logging(Bucket=name)

    public = await run_action(ctx, "s3.block_public_access", b)
    assert public.before == {"configuration": None}
    assert public.reverted == {"configuration": None}


async def test_account_settings_ebs_encryption_guardduty_and_password_policy_are_set_and_reverted(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    account = target(TargetKind.AWS_ACCOUNT, ACCOUNT)
    ec2 = await aws.client("ec2")
    await ec2.disable_ebs_encryption_by_default()
    ebs = await run_action(ctx, "ec2.enable_ebs_default_encryption", account)
    assert ebs.reverted is not None
    assert ebs.reverted["settings"] == {"EbsEncryptionByDefault": False}
    assert (await ec2.get_ebs_encryption_by_default())["EbsEncryptionByDefault"] is False

    guardduty = await aws.client("guardduty")
    for detector in (await guardduty.list_detectors())["DetectorIds"]:
        await guardduty.delete_detector(DetectorId=detector)
    detector = await run_action(ctx, "guardduty.enable_detector", account)
    assert list(detector.after["detectors"].values()) == ["ENABLED"]
    assert detector.reverted == {"detectors": {}}

    iam = await aws.client("iam")
    with contextlib.suppress(Exception):
        await iam.delete_account_password_policy()
    policy = await run_action(ctx, "iam.set_password_policy", account)
    assert policy.after["policy"]["MinimumPasswordLength"] == 14
    assert policy.reverted == {"policy": None}


async def test_config_recording_and_a_multi_region_trail_are_turned_on_and_off(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    account = target(TargetKind.AWS_ACCOUNT, ACCOUNT)
    config = await run_action(ctx, "config.enable_recording", account)
    assert config.before["recording"] is False
    assert config.after["recording"] is True
    assert config.reverted == {"recorders": [], "channels": [], "recording": False}

    trail = await run_action(ctx, "cloudtrail.enable_multi_region_trail", account)
    assert trail.after["multi_region_logging"]
    assert trail.reverted is not None
    assert not trail.reverted["ours_exists"]


async def test_trail_controls_encrypt_validate_and_deliver_to_cloudwatch(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    name = await bucket(aws)
    cloudtrail = await aws.client("cloudtrail")
    arn = (await cloudtrail.create_trail(Name=unique("trail"), S3BucketName=name))["TrailARN"]
    trail = target(TargetKind.CLOUDTRAIL_TRAIL, arn)

    validation = await run_action(ctx, "cloudtrail.enable_log_file_validation", trail)
    assert validation.reverted is not None
    assert validation.reverted["settings"] == {"LogFileValidationEnabled": False}

    encrypted = await run_action(ctx, "cloudtrail.encrypt_trail", trail, revert=False)
    assert encrypted.after["kms_key"].startswith("arn:aws:kms:")
    kms = await aws.client("kms")
    assert (await kms.get_key_rotation_status(KeyId=encrypted.after["kms_key"]))["KeyRotationEnabled"]

    logs = await run_action(ctx, "cloudtrail.send_to_cloudwatch_logs", trail, revert=False)
    assert f"acso-{ctx.settings.env}-cloudtrail" in logs.after["log_group"]
    assert logs.after["role"].endswith(f"acso-{ctx.settings.env}-cloudtrail-to-logs")


async def test_vpc_subnet_and_instance_controls(stack: TestStack, aws: AwsClientFactory) -> None:
    ctx = context(stack, aws)
    vpc, subnets = await vpc_with_subnet(aws)
    ec2 = await aws.client("ec2")

    flow = await run_action(ctx, "ec2.enable_flow_logs", target(TargetKind.VPC, vpc))
    assert len(flow.after["created"]) == 1
    assert flow.reverted is not None
    assert flow.reverted["flow_logs"] == []

    await ec2.modify_subnet_attribute(SubnetId=subnets[0], MapPublicIpOnLaunch={"Value": True})
    subnet = await run_action(ctx, "ec2.disable_subnet_public_ip", target(TargetKind.SUBNET, subnets[0]))
    assert subnet.after["settings"] == {"MapPublicIpOnLaunch": False}
    assert subnet.reverted is not None
    assert subnet.reverted["settings"] == {"MapPublicIpOnLaunch": True}

    image = (await ec2.describe_images(Owners=["amazon"]))["Images"][0]["ImageId"]
    instance = (await ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnets[0]))["Instances"][0]
    imds = await run_action(ctx, "ec2.require_imdsv2", target(TargetKind.EC2_INSTANCE, instance["InstanceId"]))
    assert imds.after["settings"] == {"HttpTokens": "required"}
    assert imds.reverted is not None
    assert imds.reverted["settings"] == {"HttpTokens": "optional"}


async def test_encryption_controls_kms_rotation_sns_and_sqs(stack: TestStack, aws: AwsClientFactory) -> None:
    ctx = context(stack, aws)
    kms = await aws.client("kms")
    key = (await kms.create_key())["KeyMetadata"]["Arn"]
    rotation = await run_action(ctx, "kms.enable_key_rotation", target(TargetKind.KMS_KEY, key))
    assert rotation.reverted is not None
    assert rotation.reverted["settings"] == {"KeyRotationEnabled": False}

    sns = await aws.client("sns")
    topic = (await sns.create_topic(Name=unique("topic")))["TopicArn"]
    encrypted = await run_action(
        ctx, "sns.encrypt_topic", target(TargetKind.SNS_TOPIC, topic), {"kms_key": "alias/aws/sns"}
    )
    assert encrypted.after == {"kms_key": "alias/aws/sns"}
    assert encrypted.reverted == {"kms_key": None}

    sqs = await aws.client("sqs")
    queue = unique("queue")
    await sqs.create_queue(QueueName=queue, Attributes={"SqsManagedSseEnabled": "false"})
    sse = await run_action(ctx, "sqs.encrypt_queue", target(TargetKind.SQS_QUEUE, queue))
    assert sse.after["sqs_managed_sse"] is True
    assert sse.reverted is not None
    assert sse.reverted["sqs_managed_sse"] is False


async def test_rds_instance_cluster_and_snapshot_controls(stack: TestStack, aws: AwsClientFactory) -> None:
    ctx = context(stack, aws)
    name, _ = await db_instance(
        aws, PubliclyAccessible=True, MultiAZ=False, DeletionProtection=False, AutoMinorVersionUpgrade=False
    )
    db = target(TargetKind.RDS_INSTANCE, name)
    for action, setting, was in (
        ("rds.disable_public_access", "PubliclyAccessible", True),
        ("rds.enable_multi_az", "MultiAZ", False),
        ("rds.enable_deletion_protection", "DeletionProtection", False),
        ("rds.enable_auto_minor_version_upgrade", "AutoMinorVersionUpgrade", False),
    ):
        run = await run_action(ctx, action, db)
        assert run.before["settings"] == {setting: was}, action
        assert run.reverted is not None, action
        assert run.reverted["settings"] == {setting: was}, action

    monitoring = await run_action(ctx, "rds.enable_enhanced_monitoring", db, {"interval": 60})
    assert monitoring.after["settings"]["MonitoringInterval"] == 60
    assert monitoring.after["settings"]["MonitoringRoleArn"].endswith(f"acso-{ctx.settings.env}-rds-monitoring")

    rds = await aws.client("rds")
    await rds.create_db_snapshot(DBSnapshotIdentifier=f"{name}-snap", DBInstanceIdentifier=name)
    await rds.modify_db_snapshot_attribute(
        DBSnapshotIdentifier=f"{name}-snap", AttributeName="restore", ValuesToAdd=["all"]
    )
    snapshot = target(TargetKind.RDS_SNAPSHOT, f"snapshot:{name}-snap")
    private = await run_action(ctx, "rds.make_snapshot_private", snapshot)
    assert private.after["settings"] == {"public": False}
    assert private.reverted is not None
    assert private.reverted["settings"] == {"public": True}

    copy = await run_action(ctx, "rds.encrypt_snapshot", snapshot, revert=False)
    assert copy.after["encrypted_copy"] == f"{name}-snap-encrypted"

    cluster = unique("cluster")
    await rds.create_db_cluster(
        DBClusterIdentifier=cluster,
        Engine="aurora-postgresql",
        MasterUsername="acso",
        MasterUserPassword="initial-password-1",
    )
    protection = await run_action(
        ctx, "rds.enable_cluster_deletion_protection", target(TargetKind.RDS_CLUSTER, cluster)
    )
    assert protection.reverted is not None
    assert protection.reverted["settings"] == {"DeletionProtection": False}


async def test_public_lambda_permissions_are_removed_and_restored(stack: TestStack, aws: AwsClientFactory) -> None:
    ctx = context(stack, aws)
    name = await lambda_function(aws)
    client = await aws.client("lambda")
    await client.add_permission(FunctionName=name, StatementId="anyone", Action="lambda:InvokeFunction", Principal="*")
    await client.add_permission(
        FunctionName=name,
        StatementId="bucket",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::acso-spec-source",
    )
    run = await run_action(ctx, "lambda.remove_public_permissions", target(TargetKind.LAMBDA_FUNCTION, name))
    assert run.preview == {"remove_statements": ["anyone"]}
    policy = json.loads((await client.get_policy(FunctionName=name))["Policy"])
    assert sorted(s["Sid"] for s in policy["Statement"]) == ["anyone", "bucket"]


async def test_iam_keys_older_than_the_control_allows_are_deactivated_and_reactivated(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    iam = await aws.client("iam")
    user = unique("user")
    await iam.create_user(UserName=user)
    key = (await iam.create_access_key(UserName=user))["AccessKey"]
    assert key["CreateDate"] <= datetime.now(UTC)
    # Every key is older than zero days: the control's threshold is a parameter.
    run = await run_action(ctx, "iam.deactivate_unrotated_keys", target(TargetKind.IAM_USER, user), {"days": -1})
    assert run.before["deactivate"] == [key["AccessKeyId"]]
    statuses = [k["Status"] for k in (await iam.list_access_keys(UserName=user))["AccessKeyMetadata"]]
    assert statuses == ["Active"]


async def test_the_finding_is_not_resolved_while_the_resource_still_fails_its_check(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    vpc, _ = await vpc_with_subnet(aws)
    group = await security_group(aws, vpc, [WORLD_SSH])
    finding_id = f"arn:aws:securityhub:us-east-1:{ACCOUNT}:security-control/EC2.19/finding/{unique('f')}"
    finding = target(TargetKind.SECURITYHUB_FINDING, f"security_group:{group}|{finding_id}")
    params = {"verify": "ec2.revoke_open_ingress", "verify_params": {"ports": "high_risk"}}
    action = ACTIONS["securityhub.resolve_finding"]
    state = await action.current(ctx, finding, params)
    assert state["remediated"] is False
    with pytest.raises(Conflict, match="finding stays open"):
        await action.apply(ctx, finding, params, state)  # type: ignore[attr-defined]
