"""CloudTrail trail remediations: KMS encryption (CloudTrail.2), log file validation (CloudTrail.4),
delivery to CloudWatch Logs (CloudTrail.5)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, SettingsAction, State, aws_code, call
from acso_incident_response.actions.roles import ROLE_IAM, ensure_service_role
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import translate_aws_error


async def get_trail(ctx: ActionContext, name: str) -> dict[str, Any]:
    return dict((await call(ctx, "cloudtrail", "GetTrail", Name=name))["Trail"])


async def trail_tags(ctx: ActionContext, name: str) -> dict[str, str]:
    arn = name if name.startswith("arn:") else (await get_trail(ctx, name))["TrailARN"]
    found = await call(ctx, "cloudtrail", "ListTags", ResourceIdList=[arn])
    return {t["Key"]: t.get("Value", "") for r in found.get("ResourceTagList", []) for t in r.get("TagsList", [])}


async def ensure_trail_key(ctx: ActionContext, account: str) -> str:
    """The ARN of the account's ACSO CloudTrail key (alias acso-<env>-cloudtrail), created with a policy
    that lets CloudTrail encrypt and the account use the key."""
    alias = f"alias/acso-{ctx.settings.env}-cloudtrail"
    kms = await ctx.clients.client("kms")
    try:
        return str((await kms.describe_key(KeyId=alias))["KeyMetadata"]["Arn"])
    except Exception as err:
        if aws_code(err) != "NotFoundException":
            raise translate_aws_error(err, "kms:DescribeKey") from err
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudTrailEncrypts",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account}:trail/*"
                    }
                },
            },
        ],
    }
    created = await call(
        ctx,
        "kms",
        "CreateKey",
        Description="ACSO: CloudTrail log encryption",
        Policy=json.dumps(policy),
        Tags=[{"TagKey": "acso:managed", "TagValue": "true"}],
    )
    arn = str(created["KeyMetadata"]["Arn"])
    await call(ctx, "kms", "EnableKeyRotation", KeyId=arn)
    await call(ctx, "kms", "CreateAlias", AliasName=alias, TargetKeyId=arn)
    return arn


class EncryptTrail(DirectAction):
    """CloudTrail.2: the trail's log files are encrypted with a KMS key (ACSO's trail key when none is set)."""

    name: ClassVar[str] = "cloudtrail.encrypt_trail"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.CLOUDTRAIL_TRAIL
    iam_actions: ClassVar[tuple[str, ...]] = (
        "cloudtrail:GetTrail",
        "cloudtrail:UpdateTrail",
        "kms:DescribeKey",
        "kms:CreateKey",
        "kms:CreateAlias",
        "kms:EnableKeyRotation",
        "kms:TagResource",
        "kms:PutKeyPolicy",
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        return {"kms_key": (await get_trail(ctx, target.id)).get("KmsKeyId")}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["kms_key"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        key = await ensure_trail_key(ctx, target.account_id or "")
        await call(ctx, "cloudtrail", "UpdateTrail", Name=target.id, KmsKeyId=key)

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        # An empty KmsKeyId turns SSE-KMS off again (CloudTrail UpdateTrail).
        await call(ctx, "cloudtrail", "UpdateTrail", Name=target.id, KmsKeyId=before["kms_key"] or "")

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"encrypt the log files of trail {target.id} with a KMS key"


class EnableLogFileValidation(SettingsAction):
    """CloudTrail.4: the trail writes digest files, so tampering with its logs can be detected."""

    name: ClassVar[str] = "cloudtrail.enable_log_file_validation"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.CLOUDTRAIL_TRAIL
    iam_actions: ClassVar[tuple[str, ...]] = ("cloudtrail:GetTrail", "cloudtrail:UpdateTrail")

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        return {"LogFileValidationEnabled": bool((await get_trail(ctx, target.id)).get("LogFileValidationEnabled"))}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"LogFileValidationEnabled": True}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        await call(
            ctx, "cloudtrail", "UpdateTrail", Name=target.id, EnableLogFileValidation=values["LogFileValidationEnabled"]
        )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"turn on log file validation for trail {target.id}"


class SendTrailToCloudWatch(DirectAction):
    """CloudTrail.5: the trail also delivers to a CloudWatch Logs group (acso-<env>-cloudtrail), through a
    role CloudTrail assumes, created once."""

    name: ClassVar[str] = "cloudtrail.send_to_cloudwatch_logs"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.CLOUDTRAIL_TRAIL
    iam_actions: ClassVar[tuple[str, ...]] = (
        "cloudtrail:GetTrail",
        "cloudtrail:UpdateTrail",
        "logs:CreateLogGroup",
        "logs:DescribeLogGroups",
        *ROLE_IAM,
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        trail = await get_trail(ctx, target.id)
        return {"log_group": trail.get("CloudWatchLogsLogGroupArn"), "role": trail.get("CloudWatchLogsRoleArn")}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["log_group"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        group = f"acso-{ctx.settings.env}-cloudtrail"
        logs = await ctx.clients.client("logs")
        try:
            await logs.create_log_group(logGroupName=group)
        except Exception as err:
            if aws_code(err) != "ResourceAlreadyExistsException":
                raise translate_aws_error(err, "logs:CreateLogGroup") from err
        found = await call(ctx, "logs", "DescribeLogGroups", logGroupNamePrefix=group)
        group_arn = next(g["arn"] for g in found.get("logGroups", []) if g["logGroupName"] == group)
        role = await ensure_service_role(
            ctx,
            f"acso-{ctx.settings.env}-cloudtrail-to-logs",
            "cloudtrail.amazonaws.com",
            inline_policy={
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": group_arn}
                ],
            },
        )
        await call(
            ctx,
            "cloudtrail",
            "UpdateTrail",
            Name=target.id,
            CloudWatchLogsLogGroupArn=group_arn,
            CloudWatchLogsRoleArn=role,
        )

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        await call(
            ctx,
            "cloudtrail",
            "UpdateTrail",
            Name=target.id,
            CloudWatchLogsLogGroupArn=before["log_group"] or "",
            CloudWatchLogsRoleArn=before["role"] or "",
        )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"deliver trail {target.id} to CloudWatch Logs as well"
