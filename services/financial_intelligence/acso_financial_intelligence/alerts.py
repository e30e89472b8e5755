"""Cost alerts into the main flow: the analytic core's alert dicts as ACSO generic alerts (`acso.alert/v1`).

`compute_anomaly_alerts` describes an alert in the cost domain's terms (region observables, a
`cost` block); the supervisor ingests `GenericAlert`, which has a closed schema. This maps one
onto the other and validates the result, so a cost alert can never be refused by the main flow.
"""

from __future__ import annotations

import re
from typing import Any

from acso_shared.alerts.models import GENERIC_SCHEMA_ID, GenericAlert, ObservableType, ResourceType

_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_VOLUME_ID = re.compile(r"^vol-[0-9a-f]{8,17}$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def _resource(resource_id: str, region: str, account: str | None) -> dict[str, Any]:
    bare = resource_id.rsplit("/", 1)[-1]
    if _INSTANCE_ID.match(bare):
        kind = ResourceType.EC2_INSTANCE
    elif _VOLUME_ID.match(bare):
        kind = ResourceType.EBS_VOLUME
    else:
        kind = ResourceType.OTHER
    resource: dict[str, Any] = {
        "type": kind.value,
        "id": bare if kind is not ResourceType.OTHER else resource_id,
        "region": region,
    }
    if resource_id.startswith("arn:"):
        resource["arn"] = resource_id
    if account:
        resource["account_id"] = account
    return resource


def to_generic_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """The generic alert JSON for one `compute_anomaly_alerts` item (validated against `GenericAlert`)."""
    cost = alert["cost"]
    region: str = cost["region"]
    account: str | None = cost.get("account") if _ACCOUNT_ID.match(str(cost.get("account") or "")) else None
    resources = [_resource(rid, region, account) for rid in alert.get("resources", [])][:100]
    observables: list[dict[str, str]] = [
        {"type": ObservableType.INSTANCE_ID.value, "value": r["id"]}
        for r in resources
        if r["type"] == ResourceType.EC2_INSTANCE.value
    ]
    if not resources and account:
        resources.append(
            {"type": ResourceType.AWS_ACCOUNT.value, "id": account, "region": region, "account_id": account}
        )
    usage = ", ".join(cost.get("usage_types", [])) or "unknown usage types"
    description = (
        f"{alert['description']}\n\nCost anomaly {cost['anomaly_id']}: impact {cost['impact_abs']:,.2f} "
        f"{cost['currency']} ({cost['impact_pct']:.0f}%), usage types: {usage}. "
        f"Related findings: {', '.join(alert.get('related_findings', [])) or 'none'}."
    )
    generic = {
        "schema": GENERIC_SCHEMA_ID,
        "source": alert["source"],
        # The fingerprint derives from the anomaly id: a re-sent alert is the same alert downstream.
        "id": alert["fingerprint"],
        "title": alert["title"],
        "description": description[:65536],
        "type": alert["type"],
        "severity": alert["severity"],
        "occurred_at": alert["occurred_at"],
        "account_id": account,
        "region": region,
        "product": "ACSO financial intelligence",
        "resources": resources,
        "observables": observables,
    }
    # Validate here so a schema drift fails in this service's tests, not in the supervisor's queue.
    GenericAlert.model_validate(generic)
    return generic
