"""The test stack in containers (`ACSO_TEST_STACK=containers`): LocalStack and PostgreSQL started by
testcontainers instead of the embedded moto server and PostgreSQL, yielding the same `TestStack`.

testcontainers raises from its constructors when no Docker engine answers, with a message about
sockets; the engine is checked first so the failure says what to do instead. LocalStack images
need a licence token (`LOCALSTACK_AUTH_TOKEN`, passed through) for Cognito and the rest of the
manifest. The endpoint comes from the container (`get_url`) and reaches every client through
`AWS_ENDPOINT_URL`, so localstack-client's endpoint table is not needed here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.db import apply_migrations
from acso_shared.db.registry import all_migrations
from acso_shared.provision import Provisioner, user_token
from acso_shared.settings import AcsoSettings
from tests.support.stack import CREDENTIALS, TEST_ENV, TestStack

LOCALSTACK_IMAGE: Final = "localstack/localstack:2026.04.0"  # the version docker-compose.yml pins
POSTGRES_IMAGE: Final = "postgres:18-alpine"
# LocalStack derives the account from a 12-digit access key id; this one matches the manifest's
# default account, so the ARNs the provisioner builds name the account LocalStack uses.
CONTAINER_CREDENTIALS: Final = {**CREDENTIALS, "AWS_ACCESS_KEY_ID": "123456789012"}


class DockerUnavailable(RuntimeError):
    """`ACSO_TEST_STACK=containers` was asked for where no Docker engine answers."""


def docker_engine_problem() -> str | None:
    """Why no Docker engine can be used here (None when one answers a ping)."""
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as err:  # the SDK raises several unrelated types for "no engine"
        return f"{type(err).__name__}: {err}"
    return None


def start_container_stack(work_dir: Path) -> Iterator[TestStack]:
    """Start LocalStack and PostgreSQL in containers, migrate and provision, yield the `TestStack`.

    `work_dir` holds the containers' logs after the run. Raises `DockerUnavailable` with a clear
    message before touching testcontainers when there is no Docker engine.
    """
    problem = docker_engine_problem()
    if problem is not None:
        raise DockerUnavailable(
            "ACSO_TEST_STACK=containers runs the suite against LocalStack and PostgreSQL in Docker, "
            f"but no Docker engine answered ({problem}). Start Docker (or set DOCKER_HOST), or unset "
            "ACSO_TEST_STACK to use the embedded emulator and database."
        )
    from testcontainers.community.localstack import LocalStackContainer
    from testcontainers.community.postgres import PostgresContainer

    os.environ.update(CONTAINER_CREDENTIALS)
    localstack = LocalStackContainer(image=LOCALSTACK_IMAGE, region_name="us-east-1").with_env(
        "LOCALSTACK_AUTH_TOKEN", os.environ.get("LOCALSTACK_AUTH_TOKEN", "")
    )
    postgres = PostgresContainer(POSTGRES_IMAGE, username="acso", password="acso", dbname="acso", driver=None)
    with localstack, postgres:
        try:
            emulator_url = localstack.get_url()
            database_url = postgres.get_connection_url()
            asyncio.run(apply_migrations(database_url, all_migrations()))
            settings = AcsoSettings(env=TEST_ENV, aws_endpoint_url=emulator_url)

            async def provision() -> TestStack:
                clients = AwsClientFactory(settings)
                try:
                    provisioned = await Provisioner(clients, settings.manifest).provision()
                    stack = TestStack(emulator_url, database_url, provisioned)
                    for role, username in settings.manifest.demo_users.items():
                        stack.tokens[role] = await user_token(
                            clients, provisioned, username, provisioned.demo_passwords[role]
                        )
                    return stack
                finally:
                    await clients.aclose()

            yield asyncio.run(provision())
        finally:
            for name, container in (("localstack", localstack), ("postgres", postgres)):
                stdout, stderr = container.get_logs()
                (work_dir / f"{name}.log").write_bytes(stdout + stderr)


__all__ = ["DockerUnavailable", "docker_engine_problem", "start_container_stack"]
