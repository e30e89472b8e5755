"""Which of an incident's resources AWS Config can judge, as (Config resource type, id) pairs.

Taken from what the incident already holds, never from free text: the instance ids among its
observables, and the targets of its response actions (instances, buckets, and the IAM user an
access key belongs to).
"""

from __future__ import annotations

from collections.abc import Iterable

from acso_incident_response.models import Action, ObservableRef
from acso_incident_response.targets import Target, TargetKind
from acso_shared.alerts.models import ObservableType
from acso_shared.aws.compliance import EC2_INSTANCE, IAM_USER, S3_BUCKET

_CONFIG_TYPES: dict[TargetKind, str] = {
    TargetKind.EC2_INSTANCE: EC2_INSTANCE,
    TargetKind.S3_BUCKET: S3_BUCKET,
    TargetKind.IAM_USER: IAM_USER,
}
MAX_RESOURCES = 20


def config_resources(
    observables: Iterable[ObservableRef], actions: Iterable[Action], key_users: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """The incident's resources in Config's terms, in first-seen order, at most `MAX_RESOURCES`."""
    found: dict[tuple[str, str], None] = {}
    for observable in observables:
        if observable.type == ObservableType.INSTANCE_ID.value:
            found.setdefault((EC2_INSTANCE, observable.value))
    for action in actions:
        try:
            target = Target.parse(action.target)
        except ValueError:
            continue
        config_type = _CONFIG_TYPES.get(target.kind)
        if config_type is not None and target.id:
            found.setdefault((config_type, target.id))
    for user in key_users:
        found.setdefault((IAM_USER, user))
    return list(found)[:MAX_RESOURCES]
