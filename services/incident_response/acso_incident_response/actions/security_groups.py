"""Security-group remediations: ingress open to the world (EC2.13, 14, 18, 19) and the default group (EC2.2)."""

from __future__ import annotations

from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, State, aws_code, call
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import translate_aws_error
from acso_shared.errors import Invalid, NotFound

WORLD_V4 = "0.0.0.0/0"
WORLD_V6 = "::/0"
#: Security Hub EC2.19's high-risk ports (AWS Security Hub controls reference).
HIGH_RISK_PORTS = (
    20,
    21,
    22,
    23,
    25,
    110,
    135,
    143,
    445,
    1433,
    1434,
    3000,
    3306,
    3389,
    4333,
    5000,
    5432,
    5500,
    5601,
    8080,
    8088,
    8888,
    9200,
    9300,
)
_PERMISSION_KEYS = ("IpProtocol", "FromPort", "ToPort", "IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")
_PAIR_KEYS = ("GroupId", "UserId", "Description", "VpcId", "VpcPeeringConnectionId")


async def describe_group(ctx: ActionContext, group_id: str) -> dict[str, Any]:
    ec2 = await ctx.clients.client("ec2")
    try:
        response = await ec2.describe_security_groups(GroupIds=[group_id])
    except Exception as err:
        if aws_code(err) == "InvalidGroup.NotFound":
            raise NotFound("security_group_not_found", f"security group {group_id} does not exist") from err
        raise translate_aws_error(err, "ec2:DescribeSecurityGroups") from err
    for group in response.get("SecurityGroups", []):
        return dict(group)
    raise NotFound("security_group_not_found", f"security group {group_id} does not exist")


async def group_tags(ctx: ActionContext, group_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in (await describe_group(ctx, group_id)).get("Tags", [])}


def _covers(permission: dict[str, Any], port: int) -> bool:
    if permission.get("IpProtocol") == "-1":
        return True
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None or low == -1:
        return True
    return bool(low <= port <= high)


def _exactly(permission: dict[str, Any], ports: set[int]) -> bool:
    """A TCP rule for one allowed port and nothing else."""
    low, high = permission.get("FromPort"), permission.get("ToPort")
    return permission.get("IpProtocol") == "tcp" and low == high and low in ports


def open_to_world(permissions: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts of `permissions` open to 0.0.0.0/0 or ::/0 that the control forbids.

    `params.ports`: forbidden ports ("high_risk" for EC2.19's list); `params.allowed_ports`: every
    world-open rule except one for exactly these TCP ports is forbidden (EC2.18). Neither: any open rule.
    """
    ports = params.get("ports")
    if ports == "high_risk":
        ports = HIGH_RISK_PORTS
    allowed = {int(p) for p in params.get("allowed_ports", [])}
    found: list[dict[str, Any]] = []
    for permission in permissions:
        if ports is not None and not any(_covers(permission, int(p)) for p in ports):
            continue
        if allowed and _exactly(permission, allowed):
            continue
        v4 = [r for r in permission.get("IpRanges", []) if r.get("CidrIp") == WORLD_V4]
        v6 = [r for r in permission.get("Ipv6Ranges", []) if r.get("CidrIpv6") == WORLD_V6]
        if not v4 and not v6:
            continue
        narrowed: dict[str, Any] = {"IpProtocol": permission["IpProtocol"], "IpRanges": v4, "Ipv6Ranges": v6}
        if permission["IpProtocol"] != "-1":
            narrowed |= {"FromPort": permission.get("FromPort"), "ToPort": permission.get("ToPort")}
        found.append(narrowed)
    return found


def _clean(permission: dict[str, Any]) -> dict[str, Any]:
    """A permission as Authorize/Revoke take it (describe adds fields they refuse)."""
    out = {k: permission[k] for k in _PERMISSION_KEYS if permission.get(k) not in (None, [])}
    if "UserIdGroupPairs" in out:
        out["UserIdGroupPairs"] = [{k: p[k] for k in _PAIR_KEYS if p.get(k)} for p in out["UserIdGroupPairs"]]
    if out.get("IpProtocol") == "-1":
        out.pop("FromPort", None)
        out.pop("ToPort", None)
    return out


async def _authorize(ctx: ActionContext, group_id: str, permissions: list[dict[str, Any]], *, egress: bool) -> None:
    ec2 = await ctx.clients.client("ec2")
    method = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
    for permission in permissions:
        try:
            await method(GroupId=group_id, IpPermissions=[_clean(permission)])
        except Exception as err:
            if aws_code(err) != "InvalidPermission.Duplicate":
                raise translate_aws_error(err, "ec2:AuthorizeSecurityGroup") from err


class RevokeOpenIngress(DirectAction):
    """Revoke the group's inbound rules open to the whole internet that the control forbids.

    High risk: a service reachable only through such a rule stops being reachable. The rules'
    other sources stay; revert authorizes the revoked world-open ranges again.
    """

    name: ClassVar[str] = "ec2.revoke_open_ingress"
    risk: ClassVar[Risk] = "high"
    target_kind: ClassVar[TargetKind] = TargetKind.SECURITY_GROUP
    iam_actions: ClassVar[tuple[str, ...]] = (
        "ec2:DescribeSecurityGroups",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupIngress",
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        group = await describe_group(ctx, target.id)
        return {"open": open_to_world(group.get("IpPermissions", []), params)}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return not state["open"]

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await call(
            ctx,
            "ec2",
            "RevokeSecurityGroupIngress",
            GroupId=target.id,
            IpPermissions=[_clean(p) for p in state["open"]],
        )

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        await _authorize(ctx, target.id, before["open"], egress=False)

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        return {"revoke_ingress": state["open"]}

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        ports = params.get("ports")
        scope = "high-risk ports" if ports == "high_risk" else (f"ports {ports}" if ports else "any port")
        if params.get("allowed_ports"):
            scope = f"ports other than {params['allowed_ports']}"
        return f"revoke the inbound rules of {target.id} open to the internet on {scope}"


class RemoveDefaultGroupRules(DirectAction):
    """EC2.2: the VPC's default security group allows no traffic in or out.

    High risk: resources launched into the default group lose their traffic. Revert authorizes the
    removed rules again.
    """

    name: ClassVar[str] = "ec2.remove_default_group_rules"
    risk: ClassVar[Risk] = "high"
    target_kind: ClassVar[TargetKind] = TargetKind.SECURITY_GROUP
    iam_actions: ClassVar[tuple[str, ...]] = (
        "ec2:DescribeSecurityGroups",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        group = await describe_group(ctx, target.id)
        if group.get("GroupName") != "default":
            raise Invalid("security_group_not_default", f"{target.id} is not a VPC's default security group")
        return {
            "ingress": [_clean(p) for p in group.get("IpPermissions", [])],
            "egress": [_clean(p) for p in group.get("IpPermissionsEgress", [])],
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return not state["ingress"] and not state["egress"]

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        if state["ingress"]:
            await call(ctx, "ec2", "RevokeSecurityGroupIngress", GroupId=target.id, IpPermissions=state["ingress"])
        if state["egress"]:
            await call(ctx, "ec2", "RevokeSecurityGroupEgress", GroupId=target.id, IpPermissions=state["egress"])

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        await _authorize(ctx, target.id, before["ingress"], egress=False)
        await _authorize(ctx, target.id, before["egress"], egress=True)

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        return {"revoke_ingress": state["ingress"], "revoke_egress": state["egress"]}

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"remove every inbound and outbound rule of default security group {target.id}"
