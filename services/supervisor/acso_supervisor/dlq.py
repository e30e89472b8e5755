"""The DLQ console: what failed for good, and replaying it once fixed."""

from __future__ import annotations

import json

from acso_shared.errors import NotFound
from acso_shared.resources import Agent, QueueSpec
from acso_shared.runtime import AgentRuntime
from acso_supervisor.models import DlqInfo, DlqList, DlqMessage, ReplayResult

PREVIEW_CHARS = 500


class DlqConsole:
    def __init__(self, runtime: AgentRuntime) -> None:
        self._runtime = runtime

    def queues(self) -> dict[str, QueueSpec]:
        """Every queue with a DLQ, by the name used in `/v1/dlq/{agent}`."""
        manifest = self._runtime.manifest
        named = {agent.value: manifest.task_queues[agent] for agent in Agent}
        named["supervisor_results"] = manifest.results_queue
        named["supervisor_findings"] = manifest.findings_queue
        return named

    def _spec(self, name: str) -> QueueSpec:
        spec = self.queues().get(name)
        if spec is None:
            raise NotFound("queue_not_found", f"no queue named {name!r}; known: {', '.join(self.queues())}")
        return spec

    async def list(self, *, peek: int = 10) -> DlqList:
        infos = [await self.info(name, peek=peek) for name in self.queues()]
        return DlqList(dlqs=infos, total=sum(i.depth for i in infos))

    async def info(self, name: str, *, peek: int = 10) -> DlqInfo:
        spec = self._spec(name)
        depth = await self._runtime.sqs.depth(spec.dlq_name)
        messages: list[DlqMessage] = []
        if depth.visible and peek:
            # Visibility 0 leaves the messages where they are for the next look or a replay.
            for raw in await self._runtime.sqs.receive(
                spec.dlq_name, max_messages=min(peek, 10), wait_time_s=0, visibility_timeout_s=0
            ):
                messages.append(_describe(raw.message_id, raw.body, raw.receive_count))
        return DlqInfo(agent=name, queue=spec.name, dlq=spec.dlq_name, depth=depth.total, messages=messages)

    async def replay(self, name: str, max_messages: int) -> ReplayResult:
        """Move up to `max_messages` back to the source queue: send first, then delete.

        A crash between the two leaves a copy in both queues; the consumer's idempotency claim
        makes the second delivery a no-op.
        """
        spec = self._spec(name)
        sqs = self._runtime.sqs
        replayed = 0
        while replayed < max_messages:
            batch = await sqs.receive(
                spec.dlq_name, max_messages=min(10, max_messages - replayed), wait_time_s=0, visibility_timeout_s=30
            )
            if not batch:
                break
            await sqs.send_batch(spec.name, [(m.body, m.attributes or None) for m in batch])
            await sqs.delete_batch(spec.dlq_name, [m.receipt_handle for m in batch])
            replayed += len(batch)
        remaining = (await sqs.depth(spec.dlq_name)).total
        return ReplayResult(agent=name, replayed=replayed, remaining=remaining)


def _describe(message_id: str, body: str, receive_count: int) -> DlqMessage:
    fields: dict[str, object] = {}
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            fields = parsed
    except ValueError:
        pass

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) else None

    return DlqMessage(
        message_id=message_id,
        kind=text("kind"),
        idempotency_key=text("idempotency_key"),
        workflow_id=text("workflow_id"),
        sender=text("sender"),
        receive_count=receive_count,
        body_preview=body[:PREVIEW_CHARS],
    )
