"""Deduplication fingerprints and correlation keys.

`fingerprint(alert)`: sha256 over (source, detection, primary resource, principal, and the account
when the alert names neither a resource nor a principal). `detection` is what detected it within
its source (the GuardDuty finding type, the Security Hub control id, the OCSF analytic, the Splunk
search); alerts without one fall back to `type`. It ignores times, ids, titles and key order, so
the same control re-evaluated, or the same detection on the same thing by the same actor, keeps
its fingerprint, while distinct controls on one resource get distinct fingerprints (an ASFF
finding's `Types[0]`, shared by every control of a standard, no longer decides it). The dedup
window is applied by the caller.

`correlation_keys(alert, cross_account=False)`: pivots that join different alerts into one
incident:
- `instance:<id>`, `access_key:<id>`;
- `principal:<arn>`, or `principal:<name>` when the source gives only a name. A bare name is
  keyed only when the alert names its account; with `cross_account=True` it becomes
  `principal:<account>:<name>`, since equal user names in two accounts are two identities;
- `ip:<addr>` for routable addresses only. Private (RFC 1918, RFC 4193), loopback, link-local
  (incl. the instance metadata address), CGNAT, multicast, unspecified and reserved addresses are
  excluded: they are shared by unrelated hosts and would chain unrelated incidents together.
  Documentation ranges (TEST-NET-1/2/3, 2001:db8::/32) are kept because they stand in for public
  addresses in fixtures and demos and never appear in real traffic;
- `resource:<type>:<key>`, one per affected resource (instances and access keys have their
  `instance:`/`access_key:` keys instead), so N distinct controls on one resource
  correlate into one incident. `<key>` is the resource id for types whose id is unique within an
  account (instance, access key, bucket, security group, volume, snapshot, image, network
  interface, VPC, subnet, network ACL, IAM user and role), so formats that give an ARN and formats
  that give only the id meet; for other types it is the ARN when known, else the id. Shared
  network context (security groups, VPCs, subnets, network ACLs) that is not the alert's primary
  resource gives no key: every instance of a VPC names it, and it would chain their incidents;
  nor does a container that is not the primary resource (its task or workload is keyed instead).

Every key is scoped to the alert's account: `<account>|<key>` (e.g. `123456789012|ip:198.51.100.7`),
so findings of two accounts never join, even on a shared C2 address. `cross_account=True` drops
the scoping (a deployment setting). An alert that names no account (an on-premises Splunk row)
gets unscoped keys, so it joins only other alerts without an account, or every account's alerts
when cross-account correlation is on.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json

from acso_shared.alerts.models import NormalizedAlert, ObservableType, ResourceType

_EXCLUDED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


def primary_principal(alert: NormalizedAlert) -> str | None:
    """The actor of the alert: the first principal ARN, else the first principal name."""
    principals = alert.observables_of(ObservableType.PRINCIPAL)
    arns = [p for p in principals if p.startswith("arn:")]
    ordered = arns or principals
    return ordered[0] if ordered else None


def fingerprint(alert: NormalizedAlert) -> str:
    """A stable sha256 hex digest of (source, detection, primary resource, principal); see the module docstring."""
    resource = alert.primary_resource
    principal = primary_principal(alert)
    parts = {
        "source": alert.source,
        # The key keeps its historical name: for sources whose detection is their type (GuardDuty,
        # generic alerts), fingerprints computed before `detection` existed stay the same.
        "type": alert.detection or alert.type,
        "resource": f"{resource.type.value}:{resource.arn or resource.id}" if resource else None,
        "principal": principal,
        # An alert with neither resource nor principal is scoped to its account, so the same
        # detection in two accounts stays two incidents.
        "account": alert.account_id if resource is None and principal is None else None,
    }
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def correlatable_ip(value: str) -> bool:
    """True when an IP address is specific enough to link alerts (see the module docstring)."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not any(address in network for network in _EXCLUDED_NETWORKS if network.version == address.version)


def correlation_keys(alert: NormalizedAlert, *, cross_account: bool = False) -> set[str]:
    """The pivots on which this alert may join an open incident (see the module docstring)."""
    keys: set[str] = set()
    for obs in alert.observables:
        if obs.type is ObservableType.INSTANCE_ID:
            keys.add(f"instance:{obs.value}")
        elif obs.type is ObservableType.ACCESS_KEY_ID:
            keys.add(f"access_key:{obs.value}")
        elif obs.type is ObservableType.PRINCIPAL:
            if obs.value.startswith("arn:"):
                keys.add(f"principal:{obs.value}")
            elif alert.account_id:
                keys.add(f"principal:{alert.account_id}:{obs.value}" if cross_account else f"principal:{obs.value}")
        elif obs.type is ObservableType.IP and correlatable_ip(obs.value):
            keys.add(f"ip:{obs.value}")
    for index, res in enumerate(alert.resources):
        if res.type is ResourceType.EC2_INSTANCE:
            keys.add(f"instance:{res.id}")
        elif res.type is ResourceType.IAM_ACCESS_KEY:
            keys.add(f"access_key:{res.id}")
        elif index > 0 and res.type in _NETWORK_CONTEXT:
            continue
        else:
            key = res.id if res.type in _ID_UNIQUE_IN_ACCOUNT else (res.arn or res.id)
            keys.add(f"resource:{res.type.value}:{key}")
    if cross_account or not alert.account_id:
        return keys
    return {f"{alert.account_id}|{key}" for key in keys}


_NETWORK_CONTEXT = frozenset(
    {
        ResourceType.SECURITY_GROUP,
        ResourceType.VPC,
        ResourceType.SUBNET,
        ResourceType.NETWORK_ACL,
        # A container inside a task or pod is keyed through its task or workload; its name alone
        # (all a Kubernetes audit finding gives) is shared by unrelated pods.
        ResourceType.CONTAINER,
    }
)
_ID_UNIQUE_IN_ACCOUNT = frozenset(
    {
        ResourceType.EC2_INSTANCE,
        ResourceType.IAM_ACCESS_KEY,
        ResourceType.S3_BUCKET,
        ResourceType.SECURITY_GROUP,
        ResourceType.EBS_VOLUME,
        ResourceType.EBS_SNAPSHOT,
        ResourceType.EC2_IMAGE,
        ResourceType.NETWORK_INTERFACE,
        ResourceType.VPC,
        ResourceType.SUBNET,
        ResourceType.NETWORK_ACL,
        ResourceType.IAM_USER,
        ResourceType.IAM_ROLE,
        ResourceType.AWS_ACCOUNT,
    }
)
