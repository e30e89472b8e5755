"""Lambda actions: evidence (a published version), throttle, remove a public URL or public permissions."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, SettingsAction, State, aws_code, call
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import translate_aws_error

_NOT_FOUND = "ResourceNotFoundException"


async def function_tags(ctx: ActionContext, name: str) -> dict[str, str]:
    return {
        str(k): str(v) for k, v in (await call(ctx, "lambda", "GetFunction", FunctionName=name)).get("Tags", {}).items()
    }


class PublishEvidenceVersion(DirectAction):
    """Publish the function's code and configuration as an immutable version, kept as evidence.

    The version's description names the action, so a retry finds it instead of publishing again.
    """

    name: ClassVar[str] = "lambda.publish_evidence_version"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.LAMBDA_FUNCTION
    revertible: ClassVar[bool] = False
    iam_actions: ClassVar[tuple[str, ...]] = ("lambda:ListVersionsByFunction", "lambda:PublishVersion")

    def _description(self, ctx: ActionContext) -> str:
        return f"ACSO evidence, incident {ctx.incident_id}, action {ctx.action_id}"

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        versions = await call(ctx, "lambda", "ListVersionsByFunction", FunctionName=target.id)
        mine = [v for v in versions.get("Versions", []) if v.get("Description") == self._description(ctx)]
        return {
            "version": mine[0]["Version"] if mine else None,
            "code_sha256": mine[0].get("CodeSha256") if mine else None,
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return state["version"] is not None

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await call(ctx, "lambda", "PublishVersion", FunctionName=target.id, Description=self._description(ctx))

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"publish the code of function {target.id} as a version kept for evidence"


class ThrottleFunction(SettingsAction):
    """Reserved concurrency 0: no invocation runs. High risk (the function's legitimate work stops too).

    Revert restores the reserved concurrency found before, or removes the reservation.
    """

    name: ClassVar[str] = "lambda.throttle"
    risk: ClassVar[Risk] = "high"
    target_kind: ClassVar[TargetKind] = TargetKind.LAMBDA_FUNCTION
    iam_actions: ClassVar[tuple[str, ...]] = (
        "lambda:GetFunctionConcurrency",
        "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency",
    )

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        found = await call(ctx, "lambda", "GetFunctionConcurrency", FunctionName=target.id)
        return {"ReservedConcurrentExecutions": found.get("ReservedConcurrentExecutions")}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ReservedConcurrentExecutions": 0}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        reserved = values["ReservedConcurrentExecutions"]
        if reserved is None:
            await call(ctx, "lambda", "DeleteFunctionConcurrency", FunctionName=target.id)
        else:
            await call(
                ctx, "lambda", "PutFunctionConcurrency", FunctionName=target.id, ReservedConcurrentExecutions=reserved
            )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"throttle function {target.id} to zero concurrency (no invocation runs)"


class RemovePublicFunctionUrl(DirectAction):
    """Delete the function's URL when anybody may call it (auth type NONE); an IAM-authenticated URL stays.

    Revert creates the URL again with the configuration kept in `before`; AWS gives it a new address.
    """

    name: ClassVar[str] = "lambda.remove_public_url"
    risk: ClassVar[Risk] = "medium"
    target_kind: ClassVar[TargetKind] = TargetKind.LAMBDA_FUNCTION
    iam_actions: ClassVar[tuple[str, ...]] = (
        "lambda:GetFunctionUrlConfig",
        "lambda:DeleteFunctionUrlConfig",
        "lambda:CreateFunctionUrlConfig",
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        client = await ctx.clients.client("lambda")
        try:
            found = await client.get_function_url_config(FunctionName=target.id)
        except Exception as err:
            if aws_code(err) == _NOT_FOUND:
                return {"url": None}
            raise translate_aws_error(err, "lambda:GetFunctionUrlConfig") from err
        config = {k: found[k] for k in ("AuthType", "Cors", "InvokeMode") if k in found}
        return {"url": found.get("FunctionUrl"), "config": config}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return state["url"] is None or state["config"].get("AuthType") != "NONE"

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await call(ctx, "lambda", "DeleteFunctionUrlConfig", FunctionName=target.id)

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        if before["url"] is None or (await self.current(ctx, target, {}))["url"] is not None:
            return
        await call(ctx, "lambda", "CreateFunctionUrlConfig", FunctionName=target.id, **before["config"])

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        return {} if self.done(state, params) else {"function_url": {"from": state["url"], "to": None}}

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"remove the public (unauthenticated) URL of function {target.id}"


def _public(statement: dict[str, Any]) -> bool:
    """A statement that lets anybody invoke: principal `*` with no source account or ARN condition."""
    principal = statement.get("Principal")
    everyone = principal == "*" or (isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"]))
    conditions = json.dumps(statement.get("Condition", {})).lower()
    scoped = any(key in conditions for key in ("aws:sourcearn", "aws:sourceaccount", "aws:principalorgid"))
    return statement.get("Effect") == "Allow" and everyone and not scoped


class RemovePublicPermissions(DirectAction):
    """Lambda.1: remove the resource-policy statements that let anybody invoke the function.

    Revert adds each removed statement back (same id, action and principal, and the function-URL
    auth condition when it had one).
    """

    name: ClassVar[str] = "lambda.remove_public_permissions"
    risk: ClassVar[Risk] = "medium"
    target_kind: ClassVar[TargetKind] = TargetKind.LAMBDA_FUNCTION
    iam_actions: ClassVar[tuple[str, ...]] = ("lambda:GetPolicy", "lambda:RemovePermission", "lambda:AddPermission")

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        client = await ctx.clients.client("lambda")
        try:
            found = await client.get_policy(FunctionName=target.id)
        except Exception as err:
            if aws_code(err) == _NOT_FOUND:
                return {"public_statements": []}
            raise translate_aws_error(err, "lambda:GetPolicy") from err
        statements = json.loads(found.get("Policy") or "{}").get("Statement", [])
        return {"public_statements": [s for s in statements if _public(s)]}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return not state["public_statements"]

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        for statement in state["public_statements"]:
            await call(ctx, "lambda", "RemovePermission", FunctionName=target.id, StatementId=statement["Sid"])

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        present = {s["Sid"] for s in (await self.current(ctx, target, {}))["public_statements"]}
        for statement in before["public_statements"]:
            if statement["Sid"] in present:
                continue
            action = statement.get("Action", "lambda:InvokeFunction")
            kwargs: dict[str, Any] = {
                "FunctionName": target.id,
                "StatementId": statement["Sid"],
                "Action": action[0] if isinstance(action, list) else action,
                "Principal": "*",
            }
            auth = (statement.get("Condition", {}).get("StringEquals", {}) or {}).get("lambda:FunctionUrlAuthType")
            if auth:
                kwargs["FunctionUrlAuthType"] = auth
            await call(ctx, "lambda", "AddPermission", **kwargs)

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        return {"remove_statements": [s.get("Sid") for s in state["public_statements"]]}

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"remove the statements of function {target.id}'s policy that let anybody invoke it"
