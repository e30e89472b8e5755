"""One S3 object through the hunting rules: read, normalise, evaluate, send the hits.

Hits go to the supervisor's task queue as `alert.ingest` envelopes (payload `{"alerts": [...]}`)
whose idempotency keys derive from the object (bucket, key, version or ETag) and the chunk number:
reprocessing the same object after a crash or a redelivered event sends the same keys again, and
the supervisor's consumer drops what it already handled. Alert ids are stable too.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import IO, Any, cast
from urllib.parse import unquote_plus

from pydantic import BaseModel

from acso_lambda_data_processing.alerts import alert_from_hit
from acso_lambda_data_processing.flowlogs import iter_flow_records, looks_like_flow_log
from acso_shared.errors import Invalid, NotFound
from acso_shared.hunting.cloudtrail import iter_records
from acso_shared.hunting.pack import RulePack, builtin_rule_texts
from acso_shared.messaging.envelope import Envelope

INGEST_KIND = "alert.ingest"
SENDER = "data_processing"
_SNIFF_BYTES = 4096


def load_rules() -> RulePack:
    """The built-in CloudTrail pack plus this function's VPC flow log rules."""
    texts = builtin_rule_texts()
    folder = resources.files("acso_lambda_data_processing") / "rules"
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name.endswith((".yml", ".yaml")):
            texts[f"flow/{item.name}"] = item.read_text(encoding="utf-8")
    return RulePack.from_texts(texts)


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object version named by an event (keys arrive URL-encoded in S3 notifications)."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None

    @classmethod
    def from_notification(cls, bucket: str, key: str, version_id: str | None, etag: str | None) -> ObjectRef:
        return cls(bucket, unquote_plus(key), version_id or None, etag or None)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def identity(self) -> str:
        """Names this content of the object: the same bytes always give the same identity."""
        return f"{self.uri}#{self.version_id or self.etag or ''}"


class ProcessResult(BaseModel):
    """What one object produced."""

    object: str
    log_type: str
    records: int
    hits: int
    alerts_sent: int
    alerts_dropped: int
    messages: int


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Counted:
    """Counts records as the rule pack consumes them (it reads the stream once)."""

    def __init__(self, records: Iterable[dict[str, Any]]) -> None:
        self._records = records
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for record in self._records:
            self.count += 1
            yield record


class ObjectProcessor:
    """Runs the rule pack over CloudTrail or VPC flow log objects and sends the hits as alerts."""

    def __init__(
        self,
        s3: Any,
        sqs: Any,
        rules: RulePack,
        queue_name: str,
        *,
        alerts_per_message: int = 25,
        max_alerts_per_object: int = 1000,
        max_object_bytes: int = 512 * 1024 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._s3 = s3
        self._sqs = sqs
        self._rules = rules
        self._queue_name = queue_name
        self._queue_url: str | None = None
        self._per_message = alerts_per_message
        self._max_alerts = max_alerts_per_object
        self._max_bytes = max_object_bytes
        self._clock = clock

    def process(self, ref: ObjectRef) -> ProcessResult:
        """Evaluate one object; `Invalid` when it is neither CloudTrail nor a flow log, `NotFound` when gone."""
        body, modified = self._open(ref)
        head = body.read(_SNIFF_BYTES) if hasattr(body, "read") else b""
        sample = _decompressed_head(head)
        stream = cast(IO[bytes], _Rejoined(head, body))
        if looks_like_flow_log(sample):
            log_type, records = "vpc_flow_logs", _Counted(iter_flow_records(stream))
        else:
            log_type, records = "cloudtrail", _Counted(iter_records(stream))
        hits = self._rules.evaluate(records)
        alerts = [alert_from_hit(hit, ref.uri, modified) for hit in hits[: self._max_alerts]]
        messages = self._send(ref, alerts)
        return ProcessResult(
            object=ref.uri,
            log_type=log_type,
            records=records.count,
            hits=len(hits),
            alerts_sent=len(alerts),
            alerts_dropped=len(hits) - len(alerts),
            messages=messages,
        )

    def _open(self, ref: ObjectRef) -> tuple[Any, datetime]:
        kwargs: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            kwargs["VersionId"] = ref.version_id
        try:
            response = self._s3.get_object(**kwargs)
        except self._s3.exceptions.NoSuchKey as err:
            raise NotFound("object_not_found", f"{ref.uri} does not exist") from err
        if int(response.get("ContentLength", 0)) > self._max_bytes:
            raise Invalid("object_too_large", f"{ref.uri} is larger than {self._max_bytes} bytes")
        modified = response.get("LastModified")
        return response["Body"], modified if isinstance(modified, datetime) else self._clock()

    def _send(self, ref: ObjectRef, alerts: list[dict[str, Any]]) -> int:
        if not alerts:
            return 0
        if self._queue_url is None:
            self._queue_url = str(self._sqs.get_queue_url(QueueName=self._queue_name)["QueueUrl"])
        object_key = hashlib.sha256(ref.identity.encode("utf-8")).hexdigest()[:40]
        sent = 0
        for index, chunk in enumerate(_chunks(alerts, self._per_message)):
            envelope = Envelope.new(
                kind=INGEST_KIND,
                sender=SENDER,
                payload={"alerts": chunk},
                idempotency_key=f"{INGEST_KIND}:{object_key}:{index}",
            )
            self._sqs.send_message(
                QueueUrl=self._queue_url,
                MessageBody=envelope.to_body(),
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in envelope.message_attributes().items()
                },
            )
            sent += 1
        return sent


def _decompressed_head(head: bytes) -> bytes:
    if head[:2] != b"\x1f\x8b":
        return head

    try:
        # wbits 31: a gzip header; a partial stream decompresses as far as it goes.
        return zlib.decompressobj(31).decompress(head, _SNIFF_BYTES)
    except zlib.error:
        return b""


class _Rejoined:
    """A readable stream: the sniffed head, then the rest of the body."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return bytes(data)
            data, self._head = self._head[:size], self._head[size:]
            return data
        return bytes(self._rest.read(size if size is not None and size >= 0 else None))
