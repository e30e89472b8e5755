"""Deduplication fingerprints and correlation keys.

`fingerprint(alert)`: sha256 over (source, type, primary resource, principal). It ignores times,
ids, titles and key order, so repeats of the same detection on the same thing by the same actor
fold into one open incident (the dedup window is applied by the caller, e.g. "an open incident
with this fingerprint whose last_seen is within the window").

`correlation_keys(alert)`: pivots that join different alerts into one incident:
`instance:<id>`, `access_key:<id>`, `principal:<arn>` (or `principal:<account>:<name>` when the
source gives only a name, so equal user names in different accounts do not join; a bare name
with no account gives no key), and
`ip:<addr>` for routable addresses only. Private (RFC 1918, RFC 4193), loopback, link-local (incl.
the instance metadata address), CGNAT, multicast, unspecified and reserved addresses are excluded:
they are shared by unrelated hosts and would chain unrelated incidents together. Documentation
ranges (TEST-NET-1/2/3, 2001:db8::/32) are kept because they stand in for public addresses in
fixtures and demos and never appear in real traffic.
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
    """A stable sha256 hex digest of (source, type, primary resource, principal)."""
    resource = alert.primary_resource
    parts = {
        "source": alert.source,
        "type": alert.type,
        "resource": f"{resource.type.value}:{resource.arn or resource.id}" if resource else None,
        "principal": primary_principal(alert),
        # An alert with neither resource nor principal is scoped to its account, so the same
        # detection in two accounts stays two incidents.
        "account": alert.account_id if resource is None and primary_principal(alert) is None else None,
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


def correlation_keys(alert: NormalizedAlert) -> set[str]:
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
                keys.add(f"principal:{alert.account_id}:{obs.value}")
        elif obs.type is ObservableType.IP and correlatable_ip(obs.value):
            keys.add(f"ip:{obs.value}")
    for res in alert.resources:
        if res.type is ResourceType.EC2_INSTANCE:
            keys.add(f"instance:{res.id}")
        elif res.type is ResourceType.IAM_ACCESS_KEY:
            keys.add(f"access_key:{res.id}")
    return keys
