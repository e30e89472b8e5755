"""Task handlers of the financial-intelligence queue (transport only: parse the payload, call the service).

Kinds: `cost.refresh` (RefreshRequest), `cost.impact.request` (contracts.CostImpactRequest) and
`cost.findings` (FindingsRequest). Each is idempotent on its own: refreshes and impacts upsert,
findings upsert by id, and alerts are recorded before they are sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from acso_financial_intelligence.models import COST_FINDINGS, COST_REFRESH, FindingsRequest, RefreshRequest
from acso_financial_intelligence.service import FinanceService
from acso_shared.contracts import COST_IMPACT_REQUEST, CostImpactRequest
from acso_shared.errors import Invalid
from acso_shared.messaging.consumer import Handler
from acso_shared.messaging.envelope import Envelope
from acso_shared.web.api import validation_message

ModelT = TypeVar("ModelT", bound=BaseModel)


def _payload(envelope: Envelope, model: type[ModelT]) -> ModelT:
    try:
        return model.model_validate(envelope.payload)
    except ValidationError as err:
        raise Invalid("payload_invalid", f"{envelope.kind}: {validation_message(err)}") from err


def task_handlers(service: FinanceService) -> dict[str, Handler]:
    """The handlers to register on the runtime, by kind."""

    async def refresh(envelope: Envelope) -> dict[str, Any]:
        result = await service.refresh(_payload(envelope, RefreshRequest), datetime.now(UTC))
        return result.model_dump(mode="json")

    async def impact(envelope: Envelope) -> dict[str, Any]:
        result = await service.incident_impact(_payload(envelope, CostImpactRequest), datetime.now(UTC))
        return {"incident_id": result.incident_id, "total_impact": result.total_impact}

    async def findings(envelope: Envelope) -> dict[str, Any]:
        sent = await service.ingest_findings(_payload(envelope, FindingsRequest))
        return {"alerts_sent": sent}

    return {COST_REFRESH: refresh, COST_IMPACT_REQUEST: impact, COST_FINDINGS: findings}
