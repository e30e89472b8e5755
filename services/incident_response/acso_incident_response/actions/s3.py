"""S3 actions: malware objects (tag, quarantine) and the Security Hub S3 controls (account public access
block, default encryption, TLS-only policy, access logging, lifecycle)."""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlencode

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, SettingsAction, State, aws_code, call
from acso_incident_response.actions.network import bucket_tags
from acso_incident_response.actions.roles import LOG_BUCKET_IAM, ensure_log_bucket, log_bucket_name
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import translate_aws_error
from acso_shared.errors import Invalid

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
SSL_SID = "AcsoDenyInsecureTransport"
QUARANTINE_PREFIX = "acso-quarantine/"
_MISSING = ("404", "NoSuchKey", "NotFound")


def split_object(target_id: str) -> tuple[str, str]:
    """(bucket, key) of an `s3_object` target id `bucket/key`."""
    bucket, _, key = target_id.partition("/")
    if not bucket or not key:
        raise Invalid("s3_object_id_invalid", f"{target_id} is not bucket/key")
    return bucket, key


async def object_tags(ctx: ActionContext, target_id: str) -> dict[str, str]:
    """The object's tags with its bucket's: a protected bucket protects every object in it."""
    bucket, key = split_object(target_id)
    found = await call(ctx, "s3", "GetObjectTagging", Bucket=bucket, Key=key)
    return await bucket_tags(ctx.clients, bucket) | {t["Key"]: t["Value"] for t in found.get("TagSet", [])}


async def _head(ctx: ActionContext, bucket: str, key: str) -> dict[str, Any] | None:
    s3 = await ctx.clients.client("s3")
    try:
        return dict(await s3.head_object(Bucket=bucket, Key=key))
    except Exception as err:
        if aws_code(err) in _MISSING:
            return None
        raise translate_aws_error(err, "s3:HeadObject") from err


class TagObject(DirectAction):
    """Tag the object with its incident (and `params.tags`), merged into the object's own tags."""

    name: ClassVar[str] = "s3.tag_object"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.S3_OBJECT
    iam_actions: ClassVar[tuple[str, ...]] = ("s3:GetObjectTagging", "s3:PutObjectTagging", "s3:GetBucketTagging")

    def _wanted(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, str]:
        return {"acso:incident": ctx.incident_id, **{str(k): str(v) for k, v in params.get("tags", {}).items()}}

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        bucket, key = split_object(target.id)
        found = await call(ctx, "s3", "GetObjectTagging", Bucket=bucket, Key=key)
        return {"tags": {t["Key"]: t["Value"] for t in found.get("TagSet", [])}, "wanted": self._wanted(ctx, params)}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return all(state["tags"].get(k) == v for k, v in state["wanted"].items())

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await self._put(ctx, target, state["tags"] | state["wanted"])

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        await self._put(ctx, target, before["tags"])

    async def _put(self, ctx: ActionContext, target: Target, tags: dict[str, str]) -> None:
        bucket, key = split_object(target.id)
        tag_set = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        await call(ctx, "s3", "PutObjectTagging", Bucket=bucket, Key=key, Tagging={"TagSet": tag_set})

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"tag object s3://{target.id} with its incident"


class QuarantineObject(DirectAction):
    """Move the object under the bucket's quarantine prefix, keeping the exact version found.

    The copy is made from the object's version id and tagged (incident, quarantine, source version);
    then the original key is deleted without a version id: in a versioned bucket that is a delete
    marker, and the malicious version itself stays as evidence. Revert copies the quarantined object
    back to its key and removes the quarantine copy. Pair the prefix or the `acso:quarantine` tag with
    a bucket policy that denies reads, so the copy cannot be fetched either.
    """

    name: ClassVar[str] = "s3.quarantine_object"
    risk: ClassVar[Risk] = "medium"
    target_kind: ClassVar[TargetKind] = TargetKind.S3_OBJECT
    iam_actions: ClassVar[tuple[str, ...]] = (
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:DeleteObject",
    )

    def _quarantine_key(self, ctx: ActionContext, key: str, params: dict[str, Any]) -> str:
        return f"{params.get('prefix', QUARANTINE_PREFIX)}{ctx.incident_id}/{key}"

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        bucket, key = split_object(target.id)
        if key.startswith(str(params.get("prefix", QUARANTINE_PREFIX))):
            raise Invalid("s3_object_already_quarantined", f"s3://{target.id} is itself in quarantine")
        original = await _head(ctx, bucket, key)
        quarantine_key = self._quarantine_key(ctx, key, params)
        copy = await _head(ctx, bucket, quarantine_key)
        return {
            "bucket": bucket,
            "key": key,
            "version_id": original.get("VersionId") if original else None,
            "present": original is not None,
            "quarantine_key": quarantine_key,
            "quarantined": copy is not None,
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["quarantined"] and not state["present"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        bucket, key = state["bucket"], state["key"]
        if not state["quarantined"]:
            if not state["present"]:
                raise Invalid("s3_object_missing", f"s3://{target.id} no longer exists and was never quarantined")
            source: dict[str, str] = {"Bucket": bucket, "Key": key}
            if state["version_id"] and state["version_id"] != "null":
                source["VersionId"] = state["version_id"]
            tags = {
                "acso:quarantine": "true",
                "acso:incident": ctx.incident_id,
                "acso:source-version": str(state["version_id"] or "null"),
            }
            await call(
                ctx,
                "s3",
                "CopyObject",
                Bucket=bucket,
                Key=state["quarantine_key"],
                CopySource=source,
                TaggingDirective="REPLACE",
                Tagging=urlencode(tags),
            )
        if state["present"]:
            await call(ctx, "s3", "DeleteObject", Bucket=bucket, Key=key)

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        bucket, key, quarantine_key = before["bucket"], before["key"], before["quarantine_key"]
        if await _head(ctx, bucket, quarantine_key) is None:
            return
        if await _head(ctx, bucket, key) is None:
            await call(
                ctx,
                "s3",
                "CopyObject",
                Bucket=bucket,
                Key=key,
                CopySource={"Bucket": bucket, "Key": quarantine_key},
                TaggingDirective="COPY",
            )
        await call(ctx, "s3", "DeleteObject", Bucket=bucket, Key=quarantine_key)

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        return {"move": {"from": f"{state['key']}@{state['version_id']}", "to": state["quarantine_key"]}}

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"move s3://{target.id} under the quarantine prefix, keeping its version"


class BlockAccountPublicAccess(SettingsAction):
    """S3.1: all four S3 Block Public Access settings for the whole account (S3 Control)."""

    name: ClassVar[str] = "s3.block_account_public_access"
    risk: ClassVar[Risk] = "high"
    target_kind: ClassVar[TargetKind] = TargetKind.AWS_ACCOUNT
    iam_actions: ClassVar[tuple[str, ...]] = ("s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock")
    emulator_note: ClassVar[str] = (
        "S3 Control puts the account id in front of the host name, which an emulator on an IP address cannot take"
    )

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        control = await ctx.clients.client("s3control")
        try:
            found = await control.get_public_access_block(AccountId=target.id)
        except Exception as err:
            if aws_code(err) == "NoSuchPublicAccessBlockConfiguration":
                return {"configuration": None}
            raise translate_aws_error(err, "s3control:GetPublicAccessBlock") from err
        return {"configuration": dict(found["PublicAccessBlockConfiguration"])}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"configuration": BLOCK_ALL}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        if values["configuration"] is None:
            await call(ctx, "s3control", "DeletePublicAccessBlock", AccountId=target.id)
        else:
            await call(
                ctx,
                "s3control",
                "PutPublicAccessBlock",
                AccountId=target.id,
                PublicAccessBlockConfiguration=values["configuration"],
            )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"block all public access to S3 in account {target.id}"


class EnableBucketEncryption(DirectAction):
    """S3.4: default encryption for new objects (SSE-S3, AES-256) when the bucket has none configured."""

    name: ClassVar[str] = "s3.enable_default_encryption"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.S3_BUCKET
    iam_actions: ClassVar[tuple[str, ...]] = ("s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration")

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        s3 = await ctx.clients.client("s3")
        try:
            found = await s3.get_bucket_encryption(Bucket=target.id)
        except Exception as err:
            if aws_code(err) == "ServerSideEncryptionConfigurationNotFoundError":
                return {"rules": None}
            raise translate_aws_error(err, "s3:GetBucketEncryption") from err
        return {"rules": found["ServerSideEncryptionConfiguration"]["Rules"]}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["rules"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await call(
            ctx,
            "s3",
            "PutBucketEncryption",
            Bucket=target.id,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        if before["rules"]:
            await call(
                ctx,
                "s3",
                "PutBucketEncryption",
                Bucket=target.id,
                ServerSideEncryptionConfiguration={"Rules": before["rules"]},
            )
        else:
            await call(ctx, "s3", "DeleteBucketEncryption", Bucket=target.id)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"turn on default encryption (SSE-S3) for bucket {target.id}"


async def _bucket_policy(ctx: ActionContext, bucket: str) -> dict[str, Any] | None:
    s3 = await ctx.clients.client("s3")
    try:
        found = await s3.get_bucket_policy(Bucket=bucket)
    except Exception as err:
        if aws_code(err) == "NoSuchBucketPolicy":
            return None
        raise translate_aws_error(err, "s3:GetBucketPolicy") from err
    return dict(json.loads(found["Policy"]))


def _denies_insecure(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition", {}).get("Bool", {})
    return statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport", "")).lower() == "false"


class RequireTls(DirectAction):
    """S3.5: a bucket-policy statement that denies every request not made over TLS."""

    name: ClassVar[str] = "s3.require_tls"
    risk: ClassVar[Risk] = "medium"
    target_kind: ClassVar[TargetKind] = TargetKind.S3_BUCKET
    iam_actions: ClassVar[tuple[str, ...]] = ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy")

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        policy = await _bucket_policy(ctx, target.id)
        statements = (policy or {}).get("Statement", [])
        return {"policy": policy, "tls_only": any(_denies_insecure(s) for s in statements)}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["tls_only"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        arn = f"arn:aws:s3:::{target.id}"
        policy = state["policy"] or {"Version": "2012-10-17", "Statement": []}
        statement = {
            "Sid": SSL_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        updated = {**policy, "Statement": [*policy.get("Statement", []), statement]}
        await call(ctx, "s3", "PutBucketPolicy", Bucket=target.id, Policy=json.dumps(updated))

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        if before["policy"] is None:
            await call(ctx, "s3", "DeleteBucketPolicy", Bucket=target.id)
        else:
            await call(ctx, "s3", "PutBucketPolicy", Bucket=target.id, Policy=json.dumps(before["policy"]))

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"deny requests to bucket {target.id} that do not use TLS"


class EnableAccessLogging(DirectAction):
    """S3.9: server access logs to the account's ACSO log bucket (created private and encrypted)."""

    name: ClassVar[str] = "s3.enable_access_logging"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.S3_BUCKET
    iam_actions: ClassVar[tuple[str, ...]] = ("s3:GetBucketLogging", "s3:PutBucketLogging", *LOG_BUCKET_IAM)

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        if target.account_id and target.id == log_bucket_name(ctx, target.account_id):
            raise Invalid("s3_log_bucket_itself", f"{target.id} is the log bucket; it cannot log into itself")
        found = await call(ctx, "s3", "GetBucketLogging", Bucket=target.id)
        return {"logging": found.get("LoggingEnabled")}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return state["logging"] is not None

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        destination = await ensure_log_bucket(ctx, target.account_id or "")
        await self._put(ctx, target, {"TargetBucket": destination, "TargetPrefix": f"s3-access/{target.id}/"})

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        await self._put(ctx, target, before["logging"])

    async def _put(self, ctx: ActionContext, target: Target, logging: dict[str, Any] | None) -> None:
        status = {"LoggingEnabled": logging} if logging else {}
        await call(ctx, "s3", "PutBucketLogging", Bucket=target.id, BucketLoggingStatus=status)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"send the server access logs of bucket {target.id} to the account's log bucket"


class SetLifecyclePolicy(DirectAction):
    """S3.13: a lifecycle rule (Intelligent-Tiering after `params.days`, 30 by default; stale uploads go)."""

    name: ClassVar[str] = "s3.set_lifecycle_policy"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.S3_BUCKET
    iam_actions: ClassVar[tuple[str, ...]] = ("s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration")

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        s3 = await ctx.clients.client("s3")
        try:
            found = await s3.get_bucket_lifecycle_configuration(Bucket=target.id)
        except Exception as err:
            if aws_code(err) == "NoSuchLifecycleConfiguration":
                return {"rules": None}
            raise translate_aws_error(err, "s3:GetBucketLifecycleConfiguration") from err
        return {"rules": found.get("Rules")}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return any(rule.get("Status") == "Enabled" for rule in state["rules"] or [])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        rule = {
            "ID": "acso-default-lifecycle",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "Transitions": [{"Days": int(params.get("days", 30)), "StorageClass": "INTELLIGENT_TIERING"}],
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
        await call(
            ctx, "s3", "PutBucketLifecycleConfiguration", Bucket=target.id, LifecycleConfiguration={"Rules": [rule]}
        )

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        if before["rules"]:
            await call(
                ctx,
                "s3",
                "PutBucketLifecycleConfiguration",
                Bucket=target.id,
                LifecycleConfiguration={"Rules": before["rules"]},
            )
        else:
            await call(ctx, "s3", "DeleteBucketLifecycle", Bucket=target.id)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"give bucket {target.id} a lifecycle rule (Intelligent-Tiering after {params.get('days', 30)} days)"
