"""IAM actions: deactivate an access key, attach a deny-all inline policy to its user."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, State, aws_code
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
