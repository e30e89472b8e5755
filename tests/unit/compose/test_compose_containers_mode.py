"""`ACSO_TEST_STACK=containers` without a Docker engine: a clear message, before testcontainers runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import containers
from tests.support.containers import DockerUnavailable, start_container_stack

pytestmark = pytest.mark.unit


def test_without_a_docker_engine_the_containers_mode_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")

    with pytest.raises(DockerUnavailable) as raised:
        next(start_container_stack(tmp_path))

    message = str(raised.value)
    assert "no Docker engine answered" in message
    assert "unset ACSO_TEST_STACK" in message
    assert "Start Docker" in message


def test_the_engine_is_checked_before_any_container_is_constructed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(containers, "docker_engine_problem", lambda: "ConnectionError: refused")
    import testcontainers.community.localstack as localstack_module

    def constructor_must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("testcontainers was reached without a Docker engine")

    monkeypatch.setattr(localstack_module.LocalStackContainer, "__init__", constructor_must_not_run)

    with pytest.raises(DockerUnavailable, match="ConnectionError: refused"):
        next(start_container_stack(tmp_path))
