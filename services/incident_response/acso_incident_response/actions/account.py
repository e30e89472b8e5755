"""Account-wide remediations, for the region the finding names: EBS default encryption (EC2.7),
GuardDuty (GuardDuty.1), AWS Config recording (Config.1), a multi-Region trail (CloudTrail.1) and the
IAM password policy (IAM.7)."""

from __future__ import annotations

from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, SettingsAction, State, aws_code, call
from acso_incident_response.actions.roles import LOG_BUCKET_IAM, ensure_log_bucket
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import translate_aws_error

#: CIS AWS Foundations / AWS FSBP IAM.7 password policy (ASR's SetIAMPasswordPolicy defaults).
PASSWORD_POLICY: dict[str, Any] = {
    "MinimumPasswordLength": 14,
    "RequireSymbols": True,
    "RequireNumbers": True,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
    "AllowUsersToChangePassword": True,
    "MaxPasswordAge": 90,
    "PasswordReusePrevention": 24,
}
_AT_LEAST = ("MinimumPasswordLength", "PasswordReusePrevention")
_AT_MOST = ("MaxPasswordAge",)


class EnableEbsDefaultEncryption(SettingsAction):
    """EC2.7: new EBS volumes in the Region are encrypted by default."""

    name: ClassVar[str] = "ec2.enable_ebs_default_encryption"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.AWS_ACCOUNT
    iam_actions: ClassVar[tuple[str, ...]] = (
        "ec2:GetEbsEncryptionByDefault",
        "ec2:EnableEbsEncryptionByDefault",
        "ec2:DisableEbsEncryptionByDefault",
    )

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        found = await call(ctx, "ec2", "GetEbsEncryptionByDefault")
        return {"EbsEncryptionByDefault": bool(found.get("EbsEncryptionByDefault"))}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"EbsEncryptionByDefault": True}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        operation = (
            "EnableEbsEncryptionByDefault" if values["EbsEncryptionByDefault"] else "DisableEbsEncryptionByDefault"
        )
        await call(ctx, "ec2", operation)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"encrypt new EBS volumes by default in account {target.id}"


class EnableGuardDuty(DirectAction):
    """GuardDuty.1: an enabled GuardDuty detector in the Region (the existing one, or a new one)."""

    name: ClassVar[str] = "guardduty.enable_detector"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.AWS_ACCOUNT
    iam_actions: ClassVar[tuple[str, ...]] = (
        "guardduty:ListDetectors",
        "guardduty:GetDetector",
        "guardduty:CreateDetector",
        "guardduty:UpdateDetector",
        "guardduty:DeleteDetector",
        "iam:CreateServiceLinkedRole",
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        ids = (await call(ctx, "guardduty", "ListDetectors")).get("DetectorIds", [])
        detectors = {d: (await call(ctx, "guardduty", "GetDetector", DetectorId=d)).get("Status") for d in ids}
        return {"detectors": detectors}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return "ENABLED" in state["detectors"].values()

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        if state["detectors"]:
            await call(ctx, "guardduty", "UpdateDetector", DetectorId=sorted(state["detectors"])[0], Enable=True)
        else:
            await call(ctx, "guardduty", "CreateDetector", Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES")

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        now = (await self.current(ctx, target, {}))["detectors"]
        for detector in now:
            if detector not in before["detectors"]:
                await call(ctx, "guardduty", "DeleteDetector", DetectorId=detector)
            elif before["detectors"][detector] != "ENABLED":
                await call(ctx, "guardduty", "UpdateDetector", DetectorId=detector, Enable=False)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"enable GuardDuty in account {target.id}"


class EnableConfigRecording(DirectAction):
    """Config.1: an AWS Config recorder for all supported resources, delivering to the ACSO log bucket.

    It records with Config's service-linked role; revert stops recording and removes only what this
    action created.
    """

    name: ClassVar[str] = "config.enable_recording"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.AWS_ACCOUNT
    iam_actions: ClassVar[tuple[str, ...]] = (
        "config:DescribeConfigurationRecorders",
        "config:DescribeConfigurationRecorderStatus",
        "config:DescribeDeliveryChannels",
        "config:PutConfigurationRecorder",
        "config:PutDeliveryChannel",
        "config:StartConfigurationRecorder",
        "config:StopConfigurationRecorder",
        "config:DeleteConfigurationRecorder",
        "config:DeleteDeliveryChannel",
        "iam:CreateServiceLinkedRole",
        "iam:PassRole",
        *LOG_BUCKET_IAM,
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        recorders = (await call(ctx, "config", "DescribeConfigurationRecorders")).get("ConfigurationRecorders", [])
        status = (await call(ctx, "config", "DescribeConfigurationRecorderStatus")).get(
            "ConfigurationRecordersStatus", []
        )
        channels = (await call(ctx, "config", "DescribeDeliveryChannels")).get("DeliveryChannels", [])
        return {
            "recorders": sorted(r["name"] for r in recorders),
            "channels": sorted(c["name"] for c in channels),
            "recording": any(s.get("recording") for s in status),
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["recording"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        recorder = state["recorders"][0] if state["recorders"] else "default"
        if not state["recorders"]:
            iam = await ctx.clients.client("iam")
            try:
                await iam.create_service_linked_role(AWSServiceName="config.amazonaws.com")
            except Exception as err:
                # InvalidInput: the role exists already, which is what we want.
                if aws_code(err) != "InvalidInput":
                    raise translate_aws_error(err, "iam:CreateServiceLinkedRole") from err
            role = f"arn:aws:iam::{target.id}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
            await call(
                ctx,
                "config",
                "PutConfigurationRecorder",
                ConfigurationRecorder={
                    "name": recorder,
                    "roleARN": role,
                    "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
                },
            )
        if not state["channels"]:
            bucket = await ensure_log_bucket(ctx, target.id)
            await call(
                ctx,
                "config",
                "PutDeliveryChannel",
                DeliveryChannel={"name": "default", "s3BucketName": bucket, "s3KeyPrefix": "config"},
            )
        await call(ctx, "config", "StartConfigurationRecorder", ConfigurationRecorderName=recorder)

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        now = await self.current(ctx, target, {})
        for recorder in now["recorders"]:
            if not before["recording"]:
                await call(ctx, "config", "StopConfigurationRecorder", ConfigurationRecorderName=recorder)
        for channel in now["channels"]:
            if channel not in before["channels"]:
                await call(ctx, "config", "DeleteDeliveryChannel", DeliveryChannelName=channel)
        for recorder in now["recorders"]:
            if recorder not in before["recorders"]:
                await call(ctx, "config", "DeleteConfigurationRecorder", ConfigurationRecorderName=recorder)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"turn on AWS Config recording of all resources in account {target.id}"


class EnableMultiRegionTrail(DirectAction):
    """CloudTrail.1: a logging multi-Region trail with management events (created when none exists)."""

    name: ClassVar[str] = "cloudtrail.enable_multi_region_trail"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.AWS_ACCOUNT
    iam_actions: ClassVar[tuple[str, ...]] = (
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:CreateTrail",
        "cloudtrail:StartLogging",
        "cloudtrail:DeleteTrail",
        *LOG_BUCKET_IAM,
    )

    def _trail(self, ctx: ActionContext) -> str:
        return f"acso-{ctx.settings.env}-multi-region"

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        trails = (await call(ctx, "cloudtrail", "DescribeTrails", includeShadowTrails=True)).get("trailList", [])
        logging: list[str] = []
        for trail in trails:
            if not trail.get("IsMultiRegionTrail"):
                continue
            status = await call(ctx, "cloudtrail", "GetTrailStatus", Name=trail["TrailARN"])
            if status.get("IsLogging"):
                logging.append(trail["TrailARN"])
        names = sorted(t["Name"] for t in trails)
        return {"trails": names, "multi_region_logging": sorted(logging), "ours_exists": self._trail(ctx) in names}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["multi_region_logging"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        if not state["ours_exists"]:
            bucket = await ensure_log_bucket(ctx, target.id)
            await call(
                ctx,
                "cloudtrail",
                "CreateTrail",
                Name=self._trail(ctx),
                S3BucketName=bucket,
                S3KeyPrefix="cloudtrail",
                IsMultiRegionTrail=True,
                IncludeGlobalServiceEvents=True,
                EnableLogFileValidation=True,
                TagsList=[{"Key": "acso:managed", "Value": "true"}],
            )
        await call(ctx, "cloudtrail", "StartLogging", Name=self._trail(ctx))

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        if not before["ours_exists"] and (await self.current(ctx, target, {}))["ours_exists"]:
            await call(ctx, "cloudtrail", "DeleteTrail", Name=self._trail(ctx))

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"log management events of every Region in account {target.id} with a multi-Region trail"


class SetPasswordPolicy(DirectAction):
    """IAM.7: the account password policy meets CIS / FSBP (stricter settings already there are kept)."""

    name: ClassVar[str] = "iam.set_password_policy"
    risk: ClassVar[Risk] = "medium"
    target_kind: ClassVar[TargetKind] = TargetKind.AWS_ACCOUNT
    iam_actions: ClassVar[tuple[str, ...]] = (
        "iam:GetAccountPasswordPolicy",
        "iam:UpdateAccountPasswordPolicy",
        "iam:DeleteAccountPasswordPolicy",
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        iam = await ctx.clients.client("iam")
        try:
            found = await iam.get_account_password_policy()
        except Exception as err:
            if aws_code(err) == "NoSuchEntity":
                return {"policy": None}
            raise translate_aws_error(err, "iam:GetAccountPasswordPolicy") from err
        policy = found["PasswordPolicy"]
        return {"policy": {k: policy.get(k) for k in (*PASSWORD_POLICY, "HardExpiry")}}

    def _merged(self, policy: dict[str, Any] | None) -> dict[str, Any]:
        merged = dict(PASSWORD_POLICY)
        for key, value in (policy or {}).items():
            if value is None:
                continue
            if key in _AT_LEAST:
                merged[key] = max(int(value), int(PASSWORD_POLICY[key]))
            elif key in _AT_MOST:
                merged[key] = min(int(value), int(PASSWORD_POLICY[key]))
            elif key == "HardExpiry":
                merged[key] = bool(value)
        return merged

    def done(self, state: State, params: dict[str, Any]) -> bool:
        policy = state["policy"]
        return policy is not None and all(policy.get(k) == v for k, v in self._merged(policy).items())

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await call(ctx, "iam", "UpdateAccountPasswordPolicy", **self._merged(state["policy"]))

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        if before["policy"] is None:
            await call(ctx, "iam", "DeleteAccountPasswordPolicy")
        else:
            await call(
                ctx,
                "iam",
                "UpdateAccountPasswordPolicy",
                **{k: v for k, v in before["policy"].items() if v is not None},
            )

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        found = state["policy"] or {}
        return {
            k: {"from": found.get(k), "to": v} for k, v in self._merged(state["policy"]).items() if found.get(k) != v
        }

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"set the IAM password policy of account {target.id} to the CIS and FSBP minimums"
