"""WAFv2 (block an IP) and S3 (block public access) actions, and the WAF IP set itself."""

from __future__ import annotations

from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, State, aws_code
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import AwsClientFactory, translate_aws_error
from acso_shared.errors import Conflict, Unavailable

_LOCK_RETRIES = 5
_BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


async def ensure_ip_set(clients: AwsClientFactory, name: str, scope: str) -> str:
    """The block-list IP set's id, created (IPv4, empty) when missing; safe to call concurrently."""
    waf = await clients.client("wafv2")
    try:
        for _ in range(2):
            marker: str | None = None
            while True:
                kwargs: dict[str, Any] = {"Scope": scope, "Limit": 100}
                if marker:
                    kwargs["NextMarker"] = marker
                page = await waf.list_ip_sets(**kwargs)
                for summary in page.get("IPSets", []):
                    if summary["Name"] == name:
                        return str(summary["Id"])
                marker = page.get("NextMarker")
                if not marker or not page.get("IPSets"):
                    break
            try:
                created = await waf.create_ip_set(
                    Name=name,
                    Scope=scope,
                    IPAddressVersion="IPV4",
                    Addresses=[],
                    Description="ACSO: addresses blocked by incident response",
                )
                return str(created["Summary"]["Id"])
            except Exception as err:
                # Someone else created it between our list and create: list again.
                if aws_code(err) != "WAFDuplicateItemException":
                    raise
    except Exception as err:
        raise translate_aws_error(err, "wafv2:ensure ip set") from err
    raise Unavailable("waf_ip_set_unavailable", f"IP set {name} could not be found or created")


def _cidr(ip: str) -> str:
    return f"{ip}/32"


class BlockIp(DirectAction):
    """Add the address to the WAF block-list IP set."""

    name: ClassVar[str] = "waf.block_ip"
    iam_actions: ClassVar[tuple[str, ...]] = (
        "wafv2:ListIPSets",
        "wafv2:CreateIPSet",
        "wafv2:GetIPSet",
        "wafv2:UpdateIPSet",
    )
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.IP

    def _set_id(self, ctx: ActionContext) -> str:
        if not ctx.waf_ip_set_id:
            raise Unavailable("waf_ip_set_unavailable", "the WAF block list is not provisioned")
        return ctx.waf_ip_set_id

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        waf = await ctx.clients.client("wafv2")
        try:
            response = await waf.get_ip_set(
                Name=ctx.settings.ip_set_name, Scope=ctx.settings.waf_scope, Id=self._set_id(ctx)
            )
        except Exception as err:
            raise translate_aws_error(err, "wafv2:GetIPSet") from err
        return {"ip_set": ctx.settings.ip_set_name, "listed": _cidr(target.id) in response["IPSet"]["Addresses"]}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["listed"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await self._update(ctx, target, add=True)

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        if not before["listed"]:
            await self._update(ctx, target, add=False)

    async def _update(self, ctx: ActionContext, target: Target, *, add: bool) -> None:
        """Read-modify-write with the lock token; retried when another writer got there first."""
        waf = await ctx.clients.client("wafv2")
        name, scope, set_id = ctx.settings.ip_set_name, ctx.settings.waf_scope, self._set_id(ctx)
        for _ in range(_LOCK_RETRIES):
            try:
                response = await waf.get_ip_set(Name=name, Scope=scope, Id=set_id)
                addresses = set(response["IPSet"]["Addresses"])
                changed = addresses | {_cidr(target.id)} if add else addresses - {_cidr(target.id)}
                if changed == addresses:
                    return
                await waf.update_ip_set(
                    Name=name, Scope=scope, Id=set_id, Addresses=sorted(changed), LockToken=response["LockToken"]
                )
                return
            except Exception as err:
                if aws_code(err) == "WAFOptimisticLockException":
                    continue
                raise translate_aws_error(err, "wafv2:UpdateIPSet") from err
        raise Conflict("waf_lock_contention", f"IP set {name} kept changing under us")

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"add {target.id} to the WAF block list"


class BlockBucketPublicAccess(DirectAction):
    """Turn on all four S3 Block Public Access settings of the bucket."""

    name: ClassVar[str] = "s3.block_public_access"
    iam_actions: ClassVar[tuple[str, ...]] = (
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketTagging",
    )
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.S3_BUCKET

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        s3 = await ctx.clients.client("s3")
        try:
            response = await s3.get_public_access_block(Bucket=target.id)
        except Exception as err:
            if aws_code(err) == "NoSuchPublicAccessBlockConfiguration":
                return {"configuration": None}
            raise translate_aws_error(err, "s3:GetPublicAccessBlock") from err
        return {"configuration": dict(response["PublicAccessBlockConfiguration"])}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["configuration"] == _BLOCK_ALL)

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        s3 = await ctx.clients.client("s3")
        try:
            await s3.put_public_access_block(Bucket=target.id, PublicAccessBlockConfiguration=_BLOCK_ALL)
        except Exception as err:
            raise translate_aws_error(err, "s3:PutPublicAccessBlock") from err

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        s3 = await ctx.clients.client("s3")
        try:
            if before["configuration"] is None:
                await s3.delete_public_access_block(Bucket=target.id)
            else:
                await s3.put_public_access_block(
                    Bucket=target.id, PublicAccessBlockConfiguration=before["configuration"]
                )
        except Exception as err:
            raise translate_aws_error(err, "s3:revert public access block") from err

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"block all public access to bucket {target.id}"


async def bucket_tags(clients: AwsClientFactory, bucket: str) -> dict[str, str]:
    s3 = await clients.client("s3")
    try:
        response = await s3.get_bucket_tagging(Bucket=bucket)
    except Exception as err:
        if aws_code(err) == "NoSuchTagSet":
            return {}
        raise translate_aws_error(err, "s3:GetBucketTagging") from err
    return {t["Key"]: t["Value"] for t in response.get("TagSet", [])}
