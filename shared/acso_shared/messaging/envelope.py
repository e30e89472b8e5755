"""The one message envelope every SQS message carries (ARCHITECTURE.md section 3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from acso_shared.tracing import child_trace_header

SCHEMA_VERSION = 1


class Envelope(BaseModel):
    """An agent task or result. `kind` is `<domain>.<verb>` such as `triage.request` or `ping.result`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCHEMA_VERSION
    message_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    idempotency_key: str = Field(min_length=1, max_length=512)
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    workflow_id: str | None = None
    step: str | None = None
    sender: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    trace_header: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def new(
        cls,
        *,
        kind: str,
        sender: str,
        payload: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        workflow_id: str | None = None,
        step: str | None = None,
    ) -> Envelope:
        """A new envelope in the current trace; the idempotency key defaults to the message id."""
        message_id = str(uuid.uuid4())
        return cls(
            message_id=message_id,
            idempotency_key=idempotency_key or f"{kind}:{message_id}",
            kind=kind,
            workflow_id=workflow_id,
            step=step,
            sender=sender,
            trace_header=child_trace_header(),
            payload=payload or {},
        )

    def reply(self, *, kind: str, sender: str, payload: dict[str, Any]) -> Envelope:
        """The result of handling this envelope: same workflow and step, keyed on this message."""
        return Envelope(
            idempotency_key=f"{kind}:{self.idempotency_key}",
            kind=kind,
            workflow_id=self.workflow_id,
            step=self.step,
            sender=sender,
            trace_header=child_trace_header(),
            payload=payload,
        )

    def to_body(self) -> str:
        return self.model_dump_json()

    def message_attributes(self) -> dict[str, str]:
        """SQS message attributes, so routing and tracing work without parsing the body."""
        attributes = {"kind": self.kind, "sender": self.sender}
        if self.trace_header:
            attributes["trace_header"] = self.trace_header
        if self.workflow_id:
            attributes["workflow_id"] = self.workflow_id
        return attributes
