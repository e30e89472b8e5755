"""Lambda entry point (`handler.handler`): EventBridge/S3 events directly, or SQS batches with
partial batch failure reporting (only the failed messages return to the queue)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from acso_lambda_data_processing.models import is_sqs_batch, objects_in, objects_in_body
from acso_lambda_data_processing.service import ObjectProcessor, load_rules
from acso_lambda_data_processing.settings import DataProcessingSettings

logger = Logger(service="acso-data-processing")
tracer = Tracer(service="acso-data-processing")
batch = BatchProcessor(event_type=EventType.SQS)


def build_processor(settings: DataProcessingSettings) -> ObjectProcessor:
    """The processor with boto3 clients for `settings` and the compiled rule pack."""
    session = boto3.session.Session(region_name=settings.aws_region)
    rules = load_rules()
    for error in rules.errors:
        logger.error("rule failed to compile", extra=error.model_dump())
    return ObjectProcessor(
        session.client("s3", endpoint_url=settings.aws_endpoint_url),
        session.client("sqs", endpoint_url=settings.aws_endpoint_url),
        rules,
        settings.supervisor_queue,
        alerts_per_message=settings.alerts_per_message,
        max_alerts_per_object=settings.max_alerts_per_object,
        max_object_bytes=settings.max_object_bytes,
    )


@cache
def processor() -> ObjectProcessor:
    """Built on first use (rules compiled once) and kept for the warm execution environment."""
    return build_processor(DataProcessingSettings())


def _process_body(body: str) -> list[dict[str, Any]]:
    results = []
    for ref in objects_in_body(body):
        result = processor().process(ref)
        logger.info("object processed", extra=result.model_dump())
        results.append(result.model_dump())
    return results


def _record_handler(record: SQSRecord) -> list[dict[str, Any]]:
    return _process_body(record.body)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process the objects an event names; an error fails the invocation (or just its SQS message)."""
    if is_sqs_batch(event):
        response = dict(
            process_partial_response(event=event, record_handler=_record_handler, processor=batch, context=context)
        )
        if response.get("batchItemFailures"):
            logger.warning("batch partly failed", extra={"failed": response["batchItemFailures"]})
        return response
    results = []
    for ref in objects_in(event):
        result = processor().process(ref)
        logger.info("object processed", extra=result.model_dump())
        results.append(result.model_dump())
    return {"objects": results}
