"""The threat hunter's components, built once the runtime's pool exists, and its message handlers.

Routes and handlers reach the components through `Components`, which is filled in by the start
hook (the database pool only exists after the runtime connects) and emptied on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.aws.s3 import ObjectStore
from acso_shared.contracts import TRIAGE_RESULT, TriageRequest
from acso_shared.errors import Invalid, Unavailable
from acso_shared.hunting.cloudtrail import iter_records
from acso_shared.hunting.suppression import Suppressions
from acso_shared.llm.records import publish_usage
from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.web.api import validation_message
from acso_threat_hunter.attack.catalog import load_catalog
from acso_threat_hunter.cloudtrail.lookup import CloudTrailLookup, RateLimiter
from acso_threat_hunter.cloudtrail.store import EventStore
from acso_threat_hunter.hunting.alerts import ALERT_INGEST
from acso_threat_hunter.hunting.models import HuntTrigger
from acso_threat_hunter.hunting.rules import RuleLibrary
from acso_threat_hunter.hunting.service import HuntInput, HuntRepository, HuntService
from acso_threat_hunter.intel.hygiene import HygienePolicy
from acso_threat_hunter.intel.index import IntelIndex
from acso_threat_hunter.intel.repository import IntelRepository
from acso_threat_hunter.intel.service import IntelService
from acso_threat_hunter.search.bedrock import BedrockKnowledgeBase
from acso_threat_hunter.search.service import SearchService
from acso_threat_hunter.search.store import DocumentStore
from acso_threat_hunter.settings import Settings
from acso_threat_hunter.triage.reasoning import ReasoningRuns, TriageReasoner
from acso_threat_hunter.triage.service import TriageService

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

CLOUDTRAIL_INGEST = "cloudtrail.ingest"
HUNT_SCHEDULED = "hunt.scheduled"


class CloudTrailIngest(BaseModel):
    """`cloudtrail.ingest` payload: one CloudTrail object in S3 to add to the event store."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=1024)
    bucket: str | None = Field(default=None, min_length=3, max_length=63)


class ScheduledHunt(BaseModel):
    """`hunt.scheduled` payload (from an EventBridge schedule): hunt what was delivered since the last one."""

    model_config = ConfigDict(extra="ignore")

    scheduled_at: datetime | None = None
    window_s: int | None = Field(default=None, ge=60, le=7 * 24 * 3600)
    rule_ids: list[str] | None = None


def _payload(model: type[M], envelope: Envelope) -> M:
    try:
        return model.model_validate(envelope.payload)
    except ValidationError as err:
        raise Invalid("payload_invalid", f"{envelope.kind}: {validation_message(err)}") from err


@dataclass
class Components:
    """Everything routes and handlers use; None until the runtime started."""

    settings: Settings
    runtime: AgentRuntime
    intel_: IntelService | None = None
    triage_: TriageService | None = None
    reasoner_: TriageReasoner | None = None
    hunts_: HuntService | None = None
    rules_: RuleLibrary | None = None
    events_: EventStore | None = None
    search_: SearchService | None = None
    _refresher: asyncio.Task[None] | None = None
    _kb_clients: list[AwsClientFactory] = field(default_factory=list)

    def _ready(self, value: T | None) -> T:
        if value is None:
            raise Unavailable("not_ready", "the threat hunter is starting or stopping")
        return value

    @property
    def intel(self) -> IntelService:
        return self._ready(self.intel_)

    @property
    def triage(self) -> TriageService:
        return self._ready(self.triage_)

    @property
    def reasoner(self) -> TriageReasoner:
        return self._ready(self.reasoner_)

    @property
    def hunts(self) -> HuntService:
        return self._ready(self.hunts_)

    @property
    def rules(self) -> RuleLibrary:
        return self._ready(self.rules_)

    @property
    def events(self) -> EventStore:
        return self._ready(self.events_)

    @property
    def search(self) -> SearchService:
        return self._ready(self.search_)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, runtime: AgentRuntime) -> None:
        """Build the components on the runtime's pool and clients; load the index, rules and documents."""
        settings = self.settings
        pool = runtime.db.pool
        self.events_ = EventStore(pool)
        self.rules_ = RuleLibrary(
            pool,
            Suppressions.from_file(settings.hunt_suppressions_file, defaults=settings.hunt_suppression_defaults),
        )
        lookup = (
            CloudTrailLookup(runtime.clients, RateLimiter(settings.cloudtrail_lookup_rate_per_s))
            if settings.cloudtrail_lookup_enabled
            else None
        )
        self.intel_ = IntelService(
            IntelRepository(pool),
            runtime.threat_intel,
            index=IntelIndex(),
            hygiene=HygienePolicy(settings.intel_min_ipv4_prefix, settings.intel_min_ipv6_prefix),
        )
        self.triage_ = TriageService(
            self.intel_,
            self.events_,
            load_catalog(),
            lookup=lookup,
            window=timedelta(seconds=settings.triage_window_s),
            context_limit=settings.triage_context_limit,
        )
        self.reasoner_ = TriageReasoner(
            runtime.reasoning,
            self.intel_,
            self.events_,
            ReasoningRuns(runtime.db),
            lambda outcome: publish_usage(
                runtime.clients, f"acso-{settings.env}/reasoning", Agent.THREAT_HUNTER.value, outcome
            ),
            window=timedelta(seconds=settings.triage_window_s),
        )
        self.hunts_ = HuntService(
            HuntRepository(pool),
            self.rules_,
            self.events_,
            read_object=self._read_object,
            list_keys=self._list_keys,
            default_bucket=runtime.manifest.artifacts_bucket,
            send_alerts=self._send_alerts,
            lookup=lookup,
            max_events=settings.hunt_max_events,
        )
        knowledge_base = None
        if settings.knowledge_base_id:
            kb_settings = settings.model_copy(
                update={"aws_endpoint_url": settings.knowledge_base_endpoint_url or settings.aws_endpoint_url}
            )
            kb_clients = AwsClientFactory(kb_settings)
            self._kb_clients.append(kb_clients)
            knowledge_base = BedrockKnowledgeBase(kb_clients, settings.knowledge_base_id)
        self.search_ = SearchService(DocumentStore(pool), knowledge_base=knowledge_base)
        await self.rules_.sync_builtins()
        indexed = await self.search_.index_reference(load_catalog(), settings.runbooks_dir)
        loaded = await self.intel_.refresh_index()
        log.info("threat_hunter_ready", documents=indexed, indicators=loaded)
        self._refresher = asyncio.create_task(self._refresh_forever(), name="intel-index-refresh")

    async def stop(self, runtime: AgentRuntime) -> None:
        """Stop the refresh loop, cancel running imports and hunts, close the extra clients."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        if self.intel_ is not None:
            await self.intel_.aclose()
        if self.hunts_ is not None:
            await self.hunts_.aclose()
        for clients in self._kb_clients:
            await clients.aclose()
        self.intel_ = self.triage_ = self.hunts_ = self.rules_ = self.events_ = self.search_ = None
        self.reasoner_ = None

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.intel_refresh_interval_s)
            try:
                await self.intel.refresh_index()
            except Exception:
                log.exception("intel_index_refresh_failed")

    # -- AWS helpers ----------------------------------------------------------------------
    async def _read_object(self, bucket: str, key: str) -> bytes:
        return await ObjectStore(self.runtime.clients, bucket).get(key)

    async def _list_keys(self, bucket: str, prefix: str) -> list[str]:
        return await ObjectStore(self.runtime.clients, bucket).list_keys(prefix)

    async def _send_alerts(self, payload: dict[str, Any], idempotency_key: str) -> None:
        envelope = Envelope.new(
            kind=ALERT_INGEST, sender=Agent.THREAT_HUNTER.value, payload=payload, idempotency_key=idempotency_key
        )
        await self.runtime.send_task(Agent.SUPERVISOR, envelope)

    # -- message handlers -----------------------------------------------------------------
    async def handle_triage(self, envelope: Envelope) -> dict[str, Any]:
        """`triage.request` -> `triage.result` on the results queue (keyed on the request, so a resend dedupes)."""
        request = _payload(TriageRequest, envelope)
        result = await self.triage.triage(request)
        result = await self.reasoner.enrich(
            request, result, request_key=envelope.idempotency_key, workflow_id=envelope.workflow_id
        )
        reply = envelope.reply(
            kind=TRIAGE_RESULT, sender=Agent.THREAT_HUNTER.value, payload=result.model_dump(mode="json")
        )
        await self.runtime.send_result(reply)
        return {
            "verdict": result.verdict,
            "severity": result.severity.value,
            "confidence": result.confidence,
            "reasoning": result.reasoning,
        }

    async def handle_cloudtrail_ingest(self, envelope: Envelope) -> dict[str, Any]:
        """`cloudtrail.ingest`: store one CloudTrail object's records (re-running it adds nothing)."""
        task = _payload(CloudTrailIngest, envelope)
        bucket = task.bucket or self.runtime.manifest.artifacts_bucket
        data = await self._read_object(bucket, task.key)
        records = await asyncio.to_thread(lambda: list(iter_records(data)))
        stored = await self.events.add(records)
        return {"read": stored.read, "inserted": stored.inserted, "skipped": stored.skipped}

    async def handle_scheduled_hunt(self, envelope: Envelope) -> dict[str, Any]:
        """`hunt.scheduled`: hunt every stored event no scheduled hunt has seen, with every enabled rule.

        By delivery, not by event time: CloudTrail delivers most events within about 5 minutes but
        some much later, and each is hunted exactly once when it arrives (`scheduled_at` and
        `window_s` of older schedules are accepted and no longer needed).
        """
        task = _payload(ScheduledHunt, envelope)
        job = await self.hunts.submit(
            HuntInput(delivery=True), rule_ids=task.rule_ids, trigger=HuntTrigger.SCHEDULE, requested_by="schedule"
        )
        done = await self.hunts.run(job.id)
        return {"hunt_id": str(done.id), "status": done.status.value, "hits": len(done.hits)}

    def handlers(self) -> dict[str, Any]:
        """The task-queue handlers by kind."""
        return {
            "triage.request": self.handle_triage,
            CLOUDTRAIL_INGEST: self.handle_cloudtrail_ingest,
            HUNT_SCHEDULED: self.handle_scheduled_hunt,
        }
