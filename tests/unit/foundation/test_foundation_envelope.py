"""The message envelope and trace header propagation (no I/O)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from acso_shared.messaging.envelope import Envelope
from acso_shared.tracing import child_trace_header, parse_trace_header, trace_context, trace_id_of

pytestmark = pytest.mark.unit


def test_new_envelope_carries_the_current_trace_root() -> None:
    root = "1-6b0799ec-0123456789abcdef01234567"
    with trace_context(f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1", "test"):
        envelope = Envelope.new(kind="triage.request", sender="supervisor", payload={"a": 1})
    assert trace_id_of(envelope.trace_header) == root
    assert parse_trace_header(envelope.trace_header)["Parent"] != "53995c3f42cd8ad8"


def test_reply_keeps_workflow_and_derives_its_idempotency_key() -> None:
    request = Envelope.new(kind="ping.request", sender="supervisor", workflow_id="wf-1", step="triage")
    reply = request.reply(kind="ping.result", sender="threat_hunter", payload={})
    assert reply.workflow_id == "wf-1"
    assert reply.step == "triage"
    assert reply.idempotency_key == f"ping.result:{request.idempotency_key}"


def test_envelope_round_trips_through_json() -> None:
    envelope = Envelope.new(kind="triage.request", sender="supervisor", payload={"alert": {"id": "x"}})
    assert Envelope.model_validate_json(envelope.to_body()) == envelope


@pytest.mark.parametrize(
    "change",
    [{"kind": "Not A Kind"}, {"idempotency_key": ""}, {"unexpected": 1}, {"sender": None}],
)
def test_malformed_envelopes_are_rejected(change: dict[str, object]) -> None:
    data = Envelope.new(kind="a.b", sender="s").model_dump(mode="json")
    data.update(change)
    with pytest.raises(ValidationError):
        Envelope.model_validate(data)


def test_without_a_current_trace_a_new_root_is_started() -> None:
    header = child_trace_header()
    root = trace_id_of(header)
    assert root is not None
    assert root.startswith("1-")
    assert len(root.split("-")[2]) == 24
