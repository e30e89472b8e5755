"""Encryption remediations: KMS key rotation (KMS.4), SNS topics (SNS.1) and SQS queues (SQS.1) at rest."""

from __future__ import annotations

from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, SettingsAction, State, call
from acso_incident_response.targets import Target, TargetKind


async def key_tags(ctx: ActionContext, key_id: str) -> dict[str, str]:
    found = await call(ctx, "kms", "ListResourceTags", KeyId=key_id)
    return {t["TagKey"]: t["TagValue"] for t in found.get("Tags", [])}


async def topic_tags(ctx: ActionContext, topic_arn: str) -> dict[str, str]:
    found = await call(ctx, "sns", "ListTagsForResource", ResourceArn=topic_arn)
    return {t["Key"]: t["Value"] for t in found.get("Tags", [])}


async def queue_url(ctx: ActionContext, target: Target) -> str:
    kwargs: dict[str, Any] = {"QueueName": target.id}
    if target.account_id:
        kwargs["QueueOwnerAWSAccountId"] = target.account_id
    return str((await call(ctx, "sqs", "GetQueueUrl", **kwargs))["QueueUrl"])


async def queue_tags(ctx: ActionContext, target: Target) -> dict[str, str]:
    found = await call(ctx, "sqs", "ListQueueTags", QueueUrl=await queue_url(ctx, target))
    return {str(k): str(v) for k, v in found.get("Tags", {}).items()}


class EnableKeyRotation(SettingsAction):
    """KMS.4: yearly automatic rotation of the customer managed key's material."""

    name: ClassVar[str] = "kms.enable_key_rotation"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.KMS_KEY
    iam_actions: ClassVar[tuple[str, ...]] = (
        "kms:GetKeyRotationStatus",
        "kms:EnableKeyRotation",
        "kms:DisableKeyRotation",
    )

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        found = await call(ctx, "kms", "GetKeyRotationStatus", KeyId=target.id)
        return {"KeyRotationEnabled": bool(found.get("KeyRotationEnabled"))}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"KeyRotationEnabled": True}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        operation = "EnableKeyRotation" if values["KeyRotationEnabled"] else "DisableKeyRotation"
        await call(ctx, "kms", operation, KeyId=target.id)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"turn on automatic rotation of KMS key {target.id}"


class EncryptTopic(DirectAction):
    """SNS.1: the topic encrypts messages at rest (`params.kms_key`, alias/aws/sns by default)."""

    name: ClassVar[str] = "sns.encrypt_topic"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.SNS_TOPIC
    iam_actions: ClassVar[tuple[str, ...]] = ("sns:GetTopicAttributes", "sns:SetTopicAttributes")

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        found = await call(ctx, "sns", "GetTopicAttributes", TopicArn=target.id)
        return {"kms_key": found.get("Attributes", {}).get("KmsMasterKeyId") or None}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["kms_key"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await self._set(ctx, target, str(params.get("kms_key", "alias/aws/sns")))

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        # An empty KmsMasterKeyId turns server-side encryption off again.
        await self._set(ctx, target, before["kms_key"] or "")

    async def _set(self, ctx: ActionContext, target: Target, key: str) -> None:
        await call(
            ctx, "sns", "SetTopicAttributes", TopicArn=target.id, AttributeName="KmsMasterKeyId", AttributeValue=key
        )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"encrypt SNS topic {target.id} at rest with {params.get('kms_key', 'alias/aws/sns')}"


class EncryptQueue(DirectAction):
    """SQS.1: the queue encrypts messages at rest (SQS-managed SSE, unless a KMS key is already set)."""

    name: ClassVar[str] = "sqs.encrypt_queue"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.SQS_QUEUE
    iam_actions: ClassVar[tuple[str, ...]] = ("sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes")

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        url = await queue_url(ctx, target)
        found = await call(
            ctx, "sqs", "GetQueueAttributes", QueueUrl=url, AttributeNames=["SqsManagedSseEnabled", "KmsMasterKeyId"]
        )
        attributes = found.get("Attributes", {})
        return {
            "sqs_managed_sse": str(attributes.get("SqsManagedSseEnabled", "false")).lower() == "true",
            "kms_key": attributes.get("KmsMasterKeyId") or None,
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["sqs_managed_sse"] or state["kms_key"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        url = await queue_url(ctx, target)
        await call(ctx, "sqs", "SetQueueAttributes", QueueUrl=url, Attributes={"SqsManagedSseEnabled": "true"})

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        url = await queue_url(ctx, target)
        enabled = "true" if before["sqs_managed_sse"] else "false"
        await call(ctx, "sqs", "SetQueueAttributes", QueueUrl=url, Attributes={"SqsManagedSseEnabled": enabled})

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"encrypt SQS queue {target.id} at rest (SQS-managed keys)"
