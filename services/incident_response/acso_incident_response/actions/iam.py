"""IAM actions: deactivate an access key, attach a deny-all inline policy to its user."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, State, aws_code, call
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import translate_aws_error
from acso_shared.errors import NotFound

DENY_ALL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "AcsoQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
)


async def user_of_key(ctx: ActionContext, target: Target) -> str:
    """The key's user: from the finding when it names one, else from IAM."""
    if target.user_name:
        return target.user_name
    iam = await ctx.clients.client("iam")
    try:
        response = await iam.get_access_key_last_used(AccessKeyId=target.id)
    except Exception as err:
        raise translate_aws_error(err, "iam:GetAccessKeyLastUsed") from err
    user = response.get("UserName")
    if not user:
        raise NotFound("access_key_user_unknown", f"no user owns access key {target.id}")
    return str(user)


async def user_tags(ctx: ActionContext, user_name: str) -> dict[str, str]:
    iam = await ctx.clients.client("iam")
    try:
        response = await iam.list_user_tags(UserName=user_name)
    except Exception as err:
        raise translate_aws_error(err, "iam:ListUserTags") from err
    return {t["Key"]: t["Value"] for t in response.get("Tags", [])}


class DeactivateAccessKey(DirectAction):
    name: ClassVar[str] = "iam.deactivate_key"
    iam_actions: ClassVar[tuple[str, ...]] = (
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:UpdateAccessKey",
        "iam:ListUserTags",
    )
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.IAM_ACCESS_KEY

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        user = await user_of_key(ctx, target)
        iam = await ctx.clients.client("iam")
        try:
            keys = (await iam.list_access_keys(UserName=user)).get("AccessKeyMetadata", [])
        except Exception as err:
            raise translate_aws_error(err, "iam:ListAccessKeys") from err
        for key in keys:
            if key["AccessKeyId"] == target.id:
                return {"user_name": user, "status": key["Status"]}
        raise NotFound("access_key_not_found", f"access key {target.id} does not exist")

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["status"] == "Inactive")

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await self._set(ctx, target, state["user_name"], "Inactive")

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        await self._set(ctx, target, before["user_name"], before["status"])

    async def _set(self, ctx: ActionContext, target: Target, user: str, status: str) -> None:
        iam = await ctx.clients.client("iam")
        try:
            await iam.update_access_key(UserName=user, AccessKeyId=target.id, Status=status)
        except Exception as err:
            raise translate_aws_error(err, "iam:UpdateAccessKey") from err

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"deactivate access key {target.id}"


class DenyAllPolicy(DirectAction):
    """An inline deny-all policy on the user: stops every other credential of the user too."""

    name: ClassVar[str] = "iam.deny_all"
    iam_actions: ClassVar[tuple[str, ...]] = (
        "iam:GetUserPolicy",
        "iam:GetUser",
        "iam:PutUserPolicy",
        "iam:DeleteUserPolicy",
        "iam:ListUserTags",
    )
    risk: ClassVar[Risk] = "medium"
    target_kind: ClassVar[TargetKind] = TargetKind.IAM_USER

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        iam = await ctx.clients.client("iam")
        policy = ctx.settings.deny_all_policy_name
        try:
            await iam.get_user_policy(UserName=target.id, PolicyName=policy)
        except Exception as err:
            if aws_code(err) == "NoSuchEntity":
                # The user must exist; a missing user is an error, not "no policy".
                await iam_user_exists(ctx, target.id)
                return {"policy": policy, "attached": False}
            raise translate_aws_error(err, "iam:GetUserPolicy") from err
        return {"policy": policy, "attached": True}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["attached"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        iam = await ctx.clients.client("iam")
        try:
            await iam.put_user_policy(UserName=target.id, PolicyName=state["policy"], PolicyDocument=DENY_ALL)
        except Exception as err:
            raise translate_aws_error(err, "iam:PutUserPolicy") from err

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        if before["attached"]:
            return
        iam = await ctx.clients.client("iam")
        try:
            await iam.delete_user_policy(UserName=target.id, PolicyName=before["policy"])
        except Exception as err:
            if aws_code(err) != "NoSuchEntity":
                raise translate_aws_error(err, "iam:DeleteUserPolicy") from err

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"attach a deny-all inline policy to IAM user {target.id}"


async def iam_user_exists(ctx: ActionContext, user_name: str) -> None:
    iam = await ctx.clients.client("iam")
    try:
        await iam.get_user(UserName=user_name)
    except Exception as err:
        raise translate_aws_error(err, "iam:GetUser") from err


def _days_since(moment: datetime | None, now: datetime) -> float:
    return (now - moment).total_seconds() / 86400 if moment else float("inf")


class _KeysOfUser(DirectAction):
    """Deactivate the user's active access keys that a control flags; revert makes them active again."""

    target_kind: ClassVar[TargetKind] = TargetKind.IAM_USER
    risk: ClassVar[Risk] = "high"

    async def flagged(self, ctx: ActionContext, user: str, params: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        return {"user_name": target.id, "deactivate": sorted(await self.flagged(ctx, target.id, params))}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return not state["deactivate"]

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        for key in state["deactivate"]:
            await call(ctx, "iam", "UpdateAccessKey", UserName=target.id, AccessKeyId=key, Status="Inactive")

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        for key in before["deactivate"]:
            await call(ctx, "iam", "UpdateAccessKey", UserName=target.id, AccessKeyId=key, Status="Active")

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        return {"deactivate_keys": state["deactivate"]}


async def _active_keys(ctx: ActionContext, user: str) -> list[dict[str, Any]]:
    keys = (await call(ctx, "iam", "ListAccessKeys", UserName=user)).get("AccessKeyMetadata", [])
    return [k for k in keys if k.get("Status") == "Active"]


class DeactivateUnrotatedKeys(_KeysOfUser):
    """IAM.3: deactivate the user's active keys older than `params.days` (90), under approval."""

    name: ClassVar[str] = "iam.deactivate_unrotated_keys"
    iam_actions: ClassVar[tuple[str, ...]] = ("iam:ListAccessKeys", "iam:UpdateAccessKey")

    async def flagged(self, ctx: ActionContext, user: str, params: dict[str, Any]) -> list[str]:
        days, now = float(params.get("days", 90)), datetime.now(UTC)
        return [k["AccessKeyId"] for k in await _active_keys(ctx, user) if _days_since(k.get("CreateDate"), now) > days]

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"deactivate the access keys of {target.id} older than {params.get('days', 90)} days"


class DeactivateUnusedKeys(_KeysOfUser):
    """IAM.8 / IAM.22: deactivate the user's active keys unused for `params.days` (never used: by age)."""

    name: ClassVar[str] = "iam.deactivate_unused_keys"
    iam_actions: ClassVar[tuple[str, ...]] = ("iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey")

    async def flagged(self, ctx: ActionContext, user: str, params: dict[str, Any]) -> list[str]:
        days, now = float(params.get("days", 90)), datetime.now(UTC)
        out: list[str] = []
        for key in await _active_keys(ctx, user):
            used = (await call(ctx, "iam", "GetAccessKeyLastUsed", AccessKeyId=key["AccessKeyId"])).get(
                "AccessKeyLastUsed", {}
            )
            last = used.get("LastUsedDate") or key.get("CreateDate")
            if _days_since(last, now) > days:
                out.append(key["AccessKeyId"])
        return out

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"deactivate the access keys of {target.id} unused for {params.get('days', 90)} days"
