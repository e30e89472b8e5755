"""What a playbook step acts on: targets taken from the parsed alert, never from free text."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from acso_shared.alerts.models import NormalizedAlert, ObservableType, ResourceType


class TargetKind(StrEnum):
    EC2_INSTANCE = "ec2_instance"
    IAM_ACCESS_KEY = "iam_access_key"
    IAM_USER = "iam_user"
    IP = "ip"
    S3_BUCKET = "s3_bucket"


_RESOURCE_KINDS: dict[TargetKind, ResourceType] = {
    TargetKind.EC2_INSTANCE: ResourceType.EC2_INSTANCE,
    TargetKind.IAM_ACCESS_KEY: ResourceType.IAM_ACCESS_KEY,
    TargetKind.IAM_USER: ResourceType.IAM_USER,
    TargetKind.S3_BUCKET: ResourceType.S3_BUCKET,
}


@dataclass(frozen=True)
class Target:
    """One resource an action touches; `key` is what the action row stores (`ec2_instance:i-0abc`)."""

    kind: TargetKind
    id: str
    account_id: str | None = None
    user_name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, key: str, *, account_id: str | None = None, user_name: str | None = None) -> Target:
        kind, _, ident = key.partition(":")
        return cls(TargetKind(kind), ident, account_id, user_name)


def _is_public_ipv4(value: str) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == 4 and address.is_global


def targets_of(alert: NormalizedAlert, kind: TargetKind) -> list[Target]:
    """The targets of `kind` an alert names, in the order the alert lists them, without repeats."""
    found: dict[str, Target] = {}
    if kind is TargetKind.IP:
        for observable in alert.observables:
            # IPs found under `resource.` describe our own resource (its public address), not the attacker.
            if observable.type is not ObservableType.IP or (observable.name or "").startswith("resource."):
                continue
            if _is_public_ipv4(observable.value):
                found.setdefault(observable.value, Target(kind, observable.value, alert.account_id))
        return list(found.values())
    users = [r.id for r in alert.resources if r.type is ResourceType.IAM_USER]
    for resource in alert.resources:
        if resource.type is not _RESOURCE_KINDS[kind]:
            continue
        user = users[0] if kind is TargetKind.IAM_ACCESS_KEY and users else None
        account = resource.account_id or alert.account_id
        found.setdefault(resource.id, Target(kind, resource.id, account, user))
    return list(found.values())
