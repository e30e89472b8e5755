"""ACSO's own generic alert JSON (`GenericAlert`, `"schema": "acso.alert/v1"`).

Because the producer typed every observable and resource explicitly, values are checked strictly:
a malformed IP or instance id makes the alert invalid instead of being skipped.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from acso_shared.alerts import severity
from acso_shared.alerts.common import ErrorCode, ItemError, ParseContext, invalid_from
from acso_shared.alerts.models import (
    GENERIC_SCHEMA_ID,
    AlertState,
    GenericAlert,
    NormalizedAlert,
    ObservableType,
    Resource,
    ResourceType,
    SeverityId,
    SeverityLabel,
    SourceFormat,
    alert_id_for,
)
from acso_shared.alerts.observables import ObservableCollector
from acso_shared.alerts.text import clean_description, clean_field, clean_title

# Resource types whose id is also an observable, so correlation sees them.
_RESOURCE_OBSERVABLES: dict[ResourceType, ObservableType] = {
    ResourceType.EC2_INSTANCE: ObservableType.INSTANCE_ID,
    ResourceType.IAM_ACCESS_KEY: ObservableType.ACCESS_KEY_ID,
}


def looks_like_generic(obj: dict[str, Any]) -> bool:
    """Detection rule: a `schema` key naming an ACSO alert schema (`acso.alert/...`)."""
    schema = obj.get("schema")
    return isinstance(schema, str) and schema.startswith("acso.alert/")


def parse(item: dict[str, Any], ctx: ParseContext, *, fmt: SourceFormat, raw: dict[str, Any]) -> NormalizedAlert:
    """Normalise one generic alert."""
    try:
        alert = GenericAlert.model_validate(item)
    except ValidationError as err:
        if item.get("schema") != GENERIC_SCHEMA_ID:
            raise ItemError(
                ErrorCode.INVALID, f"unsupported schema; this service reads {GENERIC_SCHEMA_ID}", "schema"
            ) from None
        raise invalid_from(err, "ACSO generic alert") from None

    obs = ObservableCollector(strict=True)
    for i, o in enumerate(alert.observables):
        obs.add(o.type, o.value, f"observables[{i}].value")
    resources: list[Resource] = []
    for i, r in enumerate(alert.resources):
        ident = r.id
        kind = _RESOURCE_OBSERVABLES.get(r.type)
        if kind is not None:
            ident = obs.add(kind, r.id, f"resources[{i}].id") or r.id
        resources.append(
            Resource(
                type=r.type,
                id=clean_field(ident, 2048),
                arn=r.arn,
                name=clean_field(r.name, 1024) if r.name else None,
                region=r.region or alert.region,
                account_id=r.account_id or alert.account_id,
                tags={clean_field(k, 128): clean_field(v, 256) for k, v in r.tags.items()},
            )
        )

    if isinstance(alert.severity, SeverityLabel):
        sev = severity.from_label(alert.severity.value)
    else:
        sev = severity.from_id(SeverityId(alert.severity), original=str(alert.severity))
    first = alert.first_seen or alert.occurred_at
    last = alert.last_seen or alert.occurred_at
    first, last = min(first, last, alert.occurred_at), max(first, last, alert.occurred_at)

    return NormalizedAlert(
        alert_id=alert_id_for(alert.source, alert.id),
        source=alert.source,
        source_format=fmt,
        source_id=alert.id,
        product=clean_field(alert.product, 256) if alert.product else None,
        title=clean_title(alert.title),
        description=clean_description(alert.description),
        type=clean_field(alert.type),
        severity=sev,
        occurred_at=alert.occurred_at,
        first_seen=first,
        last_seen=last,
        account_id=alert.account_id,
        region=alert.region,
        resources=resources,
        observables=obs.result(),
        attack_techniques=sorted(set(alert.attack_techniques)),
        state=alert.status,
        state_reason=f"status {alert.status.value}" if alert.status is AlertState.RESOLVED else None,
        notes=obs.dropped,
        raw=raw,
    )
