"""Fixtures for invoking Lambda handlers in-process: a Lambda context object like the runtime's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest


@dataclass
class FakeLambdaContext:
    """The attributes of `LambdaContext` that Powertools' logger reads."""

    function_name: str = "acso-test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:acso-test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/acso-test-function"
    log_stream_name: str = "2026/11/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
