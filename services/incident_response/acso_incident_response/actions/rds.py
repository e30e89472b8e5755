"""RDS actions: the anomalous-login response (snapshot, rotate the master credential, isolate) and the
Security Hub RDS controls (public access, Multi-AZ, monitoring, deletion protection, minor upgrades,
private and encrypted snapshots)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, SettingsAction, State, aws_code, call
from acso_incident_response.actions.ec2 import ACTION_TAG, quarantine_group
from acso_incident_response.actions.roles import ensure_service_role
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import translate_aws_error
from acso_shared.errors import Invalid, NotFound

ROTATED_TAG = "acso:credential-rotated"
_SNAPSHOT_MISSING = ("DBSnapshotNotFound", "DBSnapshotNotFoundFault", "DBClusterSnapshotNotFoundFault")
#: What the AWS managed AmazonRDSEnhancedMonitoringRole policy grants, inline so the role needs no managed policy.
MONITORING_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
            "Resource": "arn:aws:logs:*:*:log-group:RDS*",
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
            "Resource": "arn:aws:logs:*:*:log-group:RDS*:log-stream:*",
        },
    ],
}


async def describe_instance(ctx: ActionContext, identifier: str) -> dict[str, Any]:
    response = await call(ctx, "rds", "DescribeDBInstances", DBInstanceIdentifier=identifier)
    for instance in response.get("DBInstances", []):
        return dict(instance)
    raise NotFound("db_instance_not_found", f"DB instance {identifier} does not exist")


async def describe_cluster(ctx: ActionContext, identifier: str) -> dict[str, Any]:
    response = await call(ctx, "rds", "DescribeDBClusters", DBClusterIdentifier=identifier)
    for cluster in response.get("DBClusters", []):
        return dict(cluster)
    raise NotFound("db_cluster_not_found", f"DB cluster {identifier} does not exist")


def _snapshot(target_id: str) -> tuple[bool, str]:
    """(is a cluster snapshot, its identifier) of an `rds_snapshot` target."""
    kind, _, name = target_id.partition(":")
    if kind not in ("snapshot", "cluster-snapshot") or not name:
        raise Invalid("rds_snapshot_id_invalid", f"{target_id} names no DB snapshot")
    return kind == "cluster-snapshot", name


async def describe_snapshot(ctx: ActionContext, target_id: str) -> dict[str, Any]:
    cluster, name = _snapshot(target_id)
    rds = await ctx.clients.client("rds")
    try:
        if cluster:
            items = (await rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=name)).get(
                "DBClusterSnapshots", []
            )
        else:
            items = (await rds.describe_db_snapshots(DBSnapshotIdentifier=name)).get("DBSnapshots", [])
    except Exception as err:
        if aws_code(err) not in _SNAPSHOT_MISSING:
            raise translate_aws_error(err, "rds:DescribeDBSnapshots") from err
        items = []
    for item in items:
        return dict(item)
    raise NotFound("db_snapshot_not_found", f"DB snapshot {name} does not exist")


def _encrypted(snapshot: dict[str, Any]) -> bool:
    # DB snapshots say `Encrypted`, DB cluster snapshots `StorageEncrypted`.
    return bool(snapshot.get("Encrypted") or snapshot.get("StorageEncrypted"))


def _tags(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("TagList", [])}


async def rds_tags(ctx: ActionContext, target: Target) -> dict[str, str]:
    if target.kind is TargetKind.RDS_INSTANCE:
        return _tags(await describe_instance(ctx, target.id))
    if target.kind is TargetKind.RDS_CLUSTER:
        return _tags(await describe_cluster(ctx, target.id))
    return _tags(await describe_snapshot(ctx, target.id))


class SnapshotDbInstance(DirectAction):
    """A manual DB snapshot as evidence, named after the action so a retry finds it."""

    name: ClassVar[str] = "rds.snapshot_instance"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.RDS_INSTANCE
    revertible: ClassVar[bool] = False
    iam_actions: ClassVar[tuple[str, ...]] = (
        "rds:DescribeDBInstances",
        "rds:DescribeDBSnapshots",
        "rds:CreateDBSnapshot",
        "rds:AddTagsToResource",
    )

    def _name(self, ctx: ActionContext, target: Target) -> str:
        # Snapshot identifiers: letters, digits and hyphens, 255 at most, starting with a letter.
        return f"acso-{ctx.action_id}"

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        await describe_instance(ctx, target.id)
        name = self._name(ctx, target)
        found = await call(ctx, "rds", "DescribeDBSnapshots", DBInstanceIdentifier=target.id, SnapshotType="manual")
        mine = [s for s in found.get("DBSnapshots", []) if s["DBSnapshotIdentifier"] == name]
        return {"snapshot": name, "exists": bool(mine), "status": mine[0].get("Status") if mine else None}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["exists"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await call(
            ctx,
            "rds",
            "CreateDBSnapshot",
            DBSnapshotIdentifier=state["snapshot"],
            DBInstanceIdentifier=target.id,
            Tags=[
                {"Key": ACTION_TAG, "Value": ctx.action_id},
                {"Key": "acso:incident", "Value": ctx.incident_id},
                {"Key": "acso:source-db-instance", "Value": target.id},
            ],
        )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"take a forensic snapshot of DB instance {target.id}"


class RotateMasterCredential(DirectAction):
    """Give the DB instance a new master password nobody has seen.

    With an RDS-managed master secret, Secrets Manager rotates it (RotateSecret, with a request token
    derived from the action, so the new secret version proves the rotation and a retry finds it).
    Without one, the instance switches to an RDS-managed secret (ModifyDBInstance
    ManageMasterUserPassword), for which RDS generates a new password; the instance is then tagged with
    the action id as the proof. High risk: clients holding the old password lose access. A new
    password cannot be taken back, so there is no revert.
    """

    name: ClassVar[str] = "rds.rotate_master_credential"
    risk: ClassVar[Risk] = "high"
    target_kind: ClassVar[TargetKind] = TargetKind.RDS_INSTANCE
    revertible: ClassVar[bool] = False
    iam_actions: ClassVar[tuple[str, ...]] = (
        "rds:DescribeDBInstances",
        "rds:ModifyDBInstance",
        "rds:AddTagsToResource",
        "secretsmanager:RotateSecret",
        "secretsmanager:ListSecretVersionIds",
        "secretsmanager:CreateSecret",
        "kms:DescribeKey",
    )

    def _token(self, ctx: ActionContext) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"acso-rotation:{ctx.action_id}"))

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        instance = await describe_instance(ctx, target.id)
        secret = (instance.get("MasterUserSecret") or {}).get("SecretArn")
        rotated = _tags(instance).get(ROTATED_TAG) == ctx.action_id
        if secret and not rotated:
            versions = await call(
                ctx, "secretsmanager", "ListSecretVersionIds", SecretId=secret, IncludeDeprecated=True
            )
            rotated = any(v["VersionId"] == self._token(ctx) for v in versions.get("Versions", []))
        return {"managed_secret": secret, "rotated": rotated}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["rotated"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        if state["managed_secret"]:
            await call(
                ctx,
                "secretsmanager",
                "RotateSecret",
                SecretId=state["managed_secret"],
                ClientRequestToken=self._token(ctx),
                RotateImmediately=True,
            )
            return
        instance = await describe_instance(ctx, target.id)
        await call(
            ctx,
            "rds",
            "ModifyDBInstance",
            DBInstanceIdentifier=target.id,
            ManageMasterUserPassword=True,
            ApplyImmediately=True,
        )
        await call(
            ctx,
            "rds",
            "AddTagsToResource",
            ResourceName=instance["DBInstanceArn"],
            Tags=[{"Key": ROTATED_TAG, "Value": ctx.action_id}],
        )

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        how = "rotate the RDS-managed secret" if state["managed_secret"] else "switch to an RDS-managed master secret"
        return {"master_credential": how}

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"rotate the master credential of DB instance {target.id}"


class IsolateDbInstance(DirectAction):
    """Replace the DB instance's VPC security groups with the VPC's quarantine group.

    High risk: every application loses the database until the change is reverted.
    """

    name: ClassVar[str] = "rds.isolate"
    risk: ClassVar[Risk] = "high"
    target_kind: ClassVar[TargetKind] = TargetKind.RDS_INSTANCE
    iam_actions: ClassVar[tuple[str, ...]] = (
        "rds:DescribeDBInstances",
        "rds:ModifyDBInstance",
        "ec2:DescribeSecurityGroups",
        "ec2:CreateSecurityGroup",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:CreateTags",
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        instance = await describe_instance(ctx, target.id)
        vpc = (instance.get("DBSubnetGroup") or {}).get("VpcId")
        if not vpc:
            raise Invalid("db_instance_not_in_vpc", f"DB instance {target.id} is not in a VPC")
        # RDS applies a group change in the background: groups being removed are gone as far as we care.
        groups = sorted(
            g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", []) if g.get("Status") != "removing"
        )
        return {"vpc_id": vpc, "groups": groups, "quarantine_group": await quarantine_group(ctx, str(vpc))}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["groups"] == [state["quarantine_group"]])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await self._set(ctx, target, [state["quarantine_group"]])

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        await self._set(ctx, target, list(before["groups"]))

    async def _set(self, ctx: ActionContext, target: Target, groups: list[str]) -> None:
        await call(
            ctx,
            "rds",
            "ModifyDBInstance",
            DBInstanceIdentifier=target.id,
            VpcSecurityGroupIds=groups,
            ApplyImmediately=True,
        )

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        return {"security_groups": {"from": state["groups"], "to": [state["quarantine_group"]]}}

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"move DB instance {target.id} into the quarantine security group (no connections)"


class _InstanceSetting(SettingsAction):
    """One ModifyDBInstance flag, read back from DescribeDBInstances under the same name."""

    target_kind: ClassVar[TargetKind] = TargetKind.RDS_INSTANCE
    iam_actions: ClassVar[tuple[str, ...]] = ("rds:DescribeDBInstances", "rds:ModifyDBInstance")
    setting: ClassVar[str]
    value: ClassVar[Any]
    summary: ClassVar[str]

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        instance = await describe_instance(ctx, target.id)
        # A change RDS has accepted but not finished applying (Multi-AZ takes minutes) is listed as
        # pending: that is the value the instance is getting.
        pending = instance.get("PendingModifiedValues") or {}
        return {self.setting: pending.get(self.setting, instance.get(self.setting))}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {self.setting: self.value}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        await call(ctx, "rds", "ModifyDBInstance", DBInstanceIdentifier=target.id, ApplyImmediately=True, **values)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"{self.summary} on DB instance {target.id}"


class DisablePublicAccess(_InstanceSetting):
    """RDS.2: the instance gets no public address (PubliclyAccessible false)."""

    name: ClassVar[str] = "rds.disable_public_access"
    risk: ClassVar[Risk] = "high"
    setting: ClassVar[str] = "PubliclyAccessible"
    value: ClassVar[Any] = False
    summary: ClassVar[str] = "turn off public accessibility"


class EnableMultiAz(_InstanceSetting):
    """RDS.5: a standby in a second Availability Zone (costs a second instance)."""

    name: ClassVar[str] = "rds.enable_multi_az"
    risk: ClassVar[Risk] = "high"
    setting: ClassVar[str] = "MultiAZ"
    value: ClassVar[Any] = True
    summary: ClassVar[str] = "turn on Multi-AZ"


class EnableDeletionProtection(_InstanceSetting):
    """RDS.8: the instance cannot be deleted until the protection is turned off."""

    name: ClassVar[str] = "rds.enable_deletion_protection"
    risk: ClassVar[Risk] = "low"
    setting: ClassVar[str] = "DeletionProtection"
    value: ClassVar[Any] = True
    summary: ClassVar[str] = "turn on deletion protection"


class EnableAutoMinorVersionUpgrade(_InstanceSetting):
    """RDS.13: minor engine upgrades are applied in the maintenance window."""

    name: ClassVar[str] = "rds.enable_auto_minor_version_upgrade"
    risk: ClassVar[Risk] = "low"
    setting: ClassVar[str] = "AutoMinorVersionUpgrade"
    value: ClassVar[Any] = True
    summary: ClassVar[str] = "turn on automatic minor version upgrades"


class EnableEnhancedMonitoring(SettingsAction):
    """RDS.6: enhanced monitoring every `params.interval` seconds (60 by default), with its IAM role."""

    name: ClassVar[str] = "rds.enable_enhanced_monitoring"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.RDS_INSTANCE
    iam_actions: ClassVar[tuple[str, ...]] = (
        "rds:DescribeDBInstances",
        "rds:ModifyDBInstance",
        "iam:GetRole",
        "iam:CreateRole",
        "iam:AttachRolePolicy",
        "iam:PassRole",
    )

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        instance = await describe_instance(ctx, target.id)
        return {
            "MonitoringInterval": instance.get("MonitoringInterval", 0),
            "MonitoringRoleArn": instance.get("MonitoringRoleArn"),
        }

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        interval = int(params.get("interval", 60))
        if interval not in (1, 5, 10, 15, 30, 60):
            raise Invalid("rds_monitoring_interval_invalid", "the interval must be 1, 5, 10, 15, 30 or 60 seconds")
        return {"MonitoringInterval": interval}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        interval = values.get("MonitoringInterval", 0)
        kwargs: dict[str, Any] = {"MonitoringInterval": interval or 0}
        if interval:
            role = values.get("MonitoringRoleArn") or await ensure_service_role(
                ctx,
                f"acso-{ctx.settings.env}-rds-monitoring",
                "monitoring.rds.amazonaws.com",
                inline_policy=MONITORING_POLICY,
            )
            kwargs["MonitoringRoleArn"] = role
        await call(ctx, "rds", "ModifyDBInstance", DBInstanceIdentifier=target.id, ApplyImmediately=True, **kwargs)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"turn on enhanced monitoring ({params.get('interval', 60)} s) on DB instance {target.id}"


class EnableClusterDeletionProtection(SettingsAction):
    """RDS.7: the DB cluster cannot be deleted until the protection is turned off."""

    name: ClassVar[str] = "rds.enable_cluster_deletion_protection"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.RDS_CLUSTER
    iam_actions: ClassVar[tuple[str, ...]] = ("rds:DescribeDBClusters", "rds:ModifyDBCluster")

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        return {"DeletionProtection": bool((await describe_cluster(ctx, target.id)).get("DeletionProtection"))}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"DeletionProtection": True}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        await call(ctx, "rds", "ModifyDBCluster", DBClusterIdentifier=target.id, ApplyImmediately=True, **values)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"turn on deletion protection on DB cluster {target.id}"


class MakeSnapshotPrivate(SettingsAction):
    """RDS.1: nobody outside the account may restore the snapshot (`all` leaves its restore attribute)."""

    name: ClassVar[str] = "rds.make_snapshot_private"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.RDS_SNAPSHOT
    iam_actions: ClassVar[tuple[str, ...]] = (
        "rds:DescribeDBSnapshotAttributes",
        "rds:ModifyDBSnapshotAttribute",
        "rds:DescribeDBClusterSnapshotAttributes",
        "rds:ModifyDBClusterSnapshotAttribute",
    )

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        cluster, name = _snapshot(target.id)
        if cluster:
            found = await call(ctx, "rds", "DescribeDBClusterSnapshotAttributes", DBClusterSnapshotIdentifier=name)
            attributes = found["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
        else:
            found = await call(ctx, "rds", "DescribeDBSnapshotAttributes", DBSnapshotIdentifier=name)
            attributes = found["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
        values = [v for a in attributes if a["AttributeName"] == "restore" for v in a.get("AttributeValues", [])]
        return {"public": "all" in values}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"public": False}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        cluster, name = _snapshot(target.id)
        change = {"ValuesToAdd": ["all"]} if values["public"] else {"ValuesToRemove": ["all"]}
        if cluster:
            await call(
                ctx,
                "rds",
                "ModifyDBClusterSnapshotAttribute",
                DBClusterSnapshotIdentifier=name,
                AttributeName="restore",
                **change,
            )
        else:
            await call(
                ctx, "rds", "ModifyDBSnapshotAttribute", DBSnapshotIdentifier=name, AttributeName="restore", **change
            )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"make DB snapshot {target.id} private (no public restore)"


class EncryptSnapshot(DirectAction):
    """RDS.4: an encrypted copy of an unencrypted snapshot (`params.kms_key`, alias/aws/rds by default).

    The unencrypted original is left for the owner to delete once the copy is checked: deleting a
    snapshot cannot be undone, and whether the copy replaces it is the owner's decision.
    """

    name: ClassVar[str] = "rds.encrypt_snapshot"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.RDS_SNAPSHOT
    revertible: ClassVar[bool] = False
    iam_actions: ClassVar[tuple[str, ...]] = (
        "rds:DescribeDBSnapshots",
        "rds:CopyDBSnapshot",
        "rds:DescribeDBClusterSnapshots",
        "rds:CopyDBClusterSnapshot",
        "kms:DescribeKey",
        "kms:CreateGrant",
    )

    def _copy(self, target: Target) -> str:
        _, name = _snapshot(target.id)
        return f"{name}-encrypted"[:255]

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        original = await describe_snapshot(ctx, target.id)
        cluster, _ = _snapshot(target.id)
        prefix = "cluster-snapshot" if cluster else "snapshot"
        try:
            copy = await describe_snapshot(ctx, f"{prefix}:{self._copy(target)}")
        except NotFound:
            copy = None
        return {
            "encrypted": _encrypted(original),
            "encrypted_copy": self._copy(target) if copy and _encrypted(copy) else None,
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["encrypted"] or state["encrypted_copy"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        cluster, name = _snapshot(target.id)
        key = str(params.get("kms_key", "alias/aws/rds"))
        tags = [{"Key": ACTION_TAG, "Value": ctx.action_id}, {"Key": "acso:incident", "Value": ctx.incident_id}]
        if cluster:
            await call(
                ctx,
                "rds",
                "CopyDBClusterSnapshot",
                SourceDBClusterSnapshotIdentifier=name,
                TargetDBClusterSnapshotIdentifier=self._copy(target),
                KmsKeyId=key,
                Tags=tags,
            )
        else:
            await call(
                ctx,
                "rds",
                "CopyDBSnapshot",
                SourceDBSnapshotIdentifier=name,
                TargetDBSnapshotIdentifier=self._copy(target),
                KmsKeyId=key,
                Tags=tags,
            )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"make an encrypted copy of DB snapshot {target.id}"
