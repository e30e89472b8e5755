"""AWS call counts: every call a process makes through the client factory, by service and operation.

The factory registers `count_call` on each client's botocore event system (`after-call` for an
answered call, `after-call-error` for one that got no answer), so nothing calling AWS has to
remember to count. A call is one API operation as the code sees it: the SDK's retries of it are
not separate calls. `ReceiveMessage` is split by outcome: a long poll that returned no message
(`ReceiveMessage.empty`) costs a request but carries no work, and how many happen depends on
wall-clock time, not on the work done.

Locally the counts are read from `GET /v1/aws-calls` of each service; in AWS `publish_calls` puts
the counts since its last run as the CloudWatch metric `AwsCalls` (dimensions Agent, Service,
Operation) in batches, best effort like the LLM usage metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from acso_shared.logging import get_logger

log = get_logger("acso.aws.metrics")

EMPTY_RECEIVE = "ReceiveMessage.empty"
# PutMetricData takes up to 1,000 metric data items per call; stay well below the 1 MB payload.
_METRIC_BATCH = 500


class AwsCallCounter:
    """Counts of AWS calls in this process, keyed `(service, operation)`; errors counted apart."""

    def __init__(self) -> None:
        self._calls: Counter[tuple[str, str]] = Counter()
        self._errors: Counter[tuple[str, str]] = Counter()
        self._published: Counter[tuple[str, str]] = Counter()

    def attach(self, client: Any) -> None:
        """Count every call `client` makes from now on."""
        client.meta.events.register("after-call", self._after_call)
        client.meta.events.register("after-call-error", self._after_call_error)

    def _after_call(self, model: Any = None, parsed: Any = None, http_response: Any = None, **_: Any) -> None:
        operation = str(model.name)
        if operation == "ReceiveMessage" and isinstance(parsed, dict) and not parsed.get("Messages"):
            operation = EMPTY_RECEIVE
        key = (str(model.service_model.service_name), operation)
        self._calls[key] += 1
        if http_response is not None and getattr(http_response, "status_code", 200) >= 300:
            self._errors[key] += 1

    def _after_call_error(self, event_name: str = "", **_: Any) -> None:
        # after-call-error.<service-id>.<Operation>: no model among the arguments.
        parts = event_name.split(".")
        key = (parts[1] if len(parts) > 2 else "unknown", parts[-1] if len(parts) > 2 else "unknown")
        self._calls[key] += 1
        self._errors[key] += 1

    def snapshot(self) -> dict[str, int]:
        """The counts so far as `{"sqs:SendMessage": 3, ...}`, sorted by key."""
        return {f"{service}:{operation}": n for (service, operation), n in sorted(self._calls.items())}

    def errors(self) -> dict[str, int]:
        return {f"{service}:{operation}": n for (service, operation), n in sorted(self._errors.items())}

    @property
    def total(self) -> int:
        return sum(self._calls.values())

    def unpublished(self) -> dict[tuple[str, str], int]:
        """Counts added since the last `mark_published`."""
        return {key: n - self._published[key] for key, n in self._calls.items() if n > self._published[key]}

    def mark_published(self, counts: Mapping[tuple[str, str], int]) -> None:
        self._published.update(counts)


def call_metric_data(
    counts: Mapping[tuple[str, str], int], *, agent: str, at: datetime | None = None
) -> list[dict[str, Any]]:
    """CloudWatch `MetricData` items for `counts`: metric `AwsCalls`, one item per operation."""
    timestamp = at or datetime.now(UTC)
    return [
        {
            "MetricName": "AwsCalls",
            "Dimensions": [
                {"Name": "Agent", "Value": agent},
                {"Name": "Service", "Value": service},
                {"Name": "Operation", "Value": operation},
            ],
            "Timestamp": timestamp,
            "Value": float(n),
            "Unit": "Count",
        }
        for (service, operation), n in sorted(counts.items())
    ]


async def publish_calls(clients: Any, namespace: str, agent: str) -> int:
    """Put the calls counted since the last publish as CloudWatch metrics; how many items went out.

    Best effort: a failure is logged and the counts stay unpublished for the next run. The
    `PutMetricData` calls themselves are counted too (they are AWS calls of this process).
    """
    counter: AwsCallCounter = clients.calls
    pending = counter.unpublished()
    if not pending:
        return 0
    keys = sorted(pending)
    sent = 0
    try:
        cloudwatch = await clients.client("cloudwatch")
        for start in range(0, len(keys), _METRIC_BATCH):
            batch = {key: pending[key] for key in keys[start : start + _METRIC_BATCH]}
            await cloudwatch.put_metric_data(Namespace=namespace, MetricData=call_metric_data(batch, agent=agent))
            counter.mark_published(batch)
            sent += len(batch)
    except Exception as err:
        log.warning("aws_call_metrics_failed", agent=agent, error=type(err).__name__)
    return sent
