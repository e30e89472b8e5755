"""The real local stack for tests: moto server and embedded PostgreSQL, started once per session."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.db import apply_migrations
from acso_shared.db.registry import all_migrations
from acso_shared.local.emulator import MotoServer
from acso_shared.local.postgres import EmbeddedPostgres
from acso_shared.local.processes import free_port, stop_process, wait_for_http
from acso_shared.provision import ProvisionedStack, Provisioner, user_token
from acso_shared.resources import Agent
from acso_shared.settings import AcsoSettings

TEST_ENV = "test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@dataclass
class TestStack:
    """What an integration test needs to build services against the real emulator and database."""

    __test__ = False  # a fixture value, not a test class

    emulator_url: str
    database_url: str
    provisioned: ProvisionedStack
    tokens: dict[str, str] = field(default_factory=dict)

    def service_settings(self, settings_cls: type[Any], **overrides: Any) -> Any:
        pool = self.provisioned.user_pool_id
        values: dict[str, Any] = {
            "env": TEST_ENV,
            "aws_endpoint_url": self.emulator_url,
            "aws_region": "us-east-1",
            "database_url": self.database_url,
            "service_host": "127.0.0.1",
            "cognito_user_pool_id": pool,
            "cognito_app_client_id": self.provisioned.app_client_id,
            "cognito_machine_client_id": self.provisioned.machine_client_id,
            "jwt_issuer": f"https://cognito-idp.us-east-1.amazonaws.com/{pool}",
            "jwks_url": f"{self.emulator_url}/{pool}/.well-known/jwks.json",
            "heartbeat_interval_s": 1.0,
            "consumer_wait_time_s": 1,
            "retry_backoff_base_s": 0.0,
            "shutdown_grace_s": 5.0,
            # Containment may act in the emulator's account (no default outside ACSO_ENV=local).
            "allowed_account_ids": "123456789012",
        }
        values.update(overrides)
        return settings_cls(**values)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def aws_settings(self) -> AcsoSettings:
        return AcsoSettings(env=TEST_ENV, aws_endpoint_url=self.emulator_url)


def start_test_stack(work_dir: Path) -> Iterator[TestStack]:
    os.environ.update(CREDENTIALS)
    emulator = MotoServer(free_port(), log_path=work_dir / "emulator.log")
    postgres = EmbeddedPostgres(work_dir / "postgres", free_port())
    emulator.start()
    try:
        postgres.start()
        try:
            asyncio.run(postgres.ensure_database("acso"))
            database_url = postgres.dsn("acso")
            asyncio.run(apply_migrations(database_url, all_migrations()))
            settings = AcsoSettings(env=TEST_ENV, aws_endpoint_url=emulator.url)

            async def provision() -> TestStack:
                clients = AwsClientFactory(settings)
                try:
                    provisioned = await Provisioner(clients, settings.manifest).provision()
                    stack = TestStack(emulator.url, database_url, provisioned)
                    for role, username in settings.manifest.demo_users.items():
                        stack.tokens[role] = await user_token(
                            clients, provisioned, username, provisioned.demo_passwords[role]
                        )
                    return stack
                finally:
                    await clients.aclose()

            yield asyncio.run(provision())
        finally:
            postgres.stop()
    finally:
        emulator.stop()


@dataclass
class RunningSystem:
    """The whole local system, started by the same launcher as `make run`."""

    data_dir: Path
    urls: dict[str, str]
    emulator_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)
    log_offset: int = 0  # where this run's output starts in launcher.log (a data dir can be started again)

    def launcher_output(self) -> str:
        """What the launcher printed in this run."""
        return (self.data_dir / "launcher.log").read_bytes()[self.log_offset :].decode(errors="replace")

    def url(self, agent: Agent | str) -> str:
        name = agent.value if isinstance(agent, Agent) else agent
        return self.urls[name]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def pids(self) -> dict[str, int]:
        import json

        state = json.loads((self.data_dir / "run" / "state.json").read_text())
        return {k: int(v) for k, v in state["pids"].items()}


def start_system(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[RunningSystem]:
    """Run `python -m acso_shared.cli run` (what `make run` runs) on free ports."""
    import json

    os.environ.update(CREDENTIALS)  # the test's own AWS clients talk to the same emulator
    base = free_port(len(Agent))
    env = {
        **os.environ,
        **CREDENTIALS,
        "ACSO_DATA_DIR": str(data_dir),
        "ACSO_EMULATOR_PORT": str(free_port()),
        "ACSO_POSTGRES_PORT": str(free_port()),
        "ACSO_BASE_PORT": str(base),
        **(extra_env or {}),
    }
    log_path = data_dir / "launcher.log"
    offset = log_path.stat().st_size if log_path.exists() else 0

    def output() -> str:
        return log_path.read_bytes()[offset:].decode(errors="replace")

    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "acso_shared.cli", "run"], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    log.close()
    try:
        deadline = time.monotonic() + 120
        while "is running" not in output():
            if process.poll() is not None:
                raise RuntimeError(f"launcher exited: {output()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(output()[-3000:])
            time.sleep(0.3)
        state = json.loads((data_dir / "run" / "state.json").read_text())
        system = RunningSystem(
            data_dir, state["services"], state["emulator_url"], state["database_url"], process, log_offset=offset
        )
        for role in ("analyst", "responder", "it_operator", "executive", "admin"):
            token = subprocess.run(
                [sys.executable, "-m", "acso_shared.cli", "token", "--role", role],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            system.tokens[role] = token.stdout.strip()
        yield system
    finally:
        stop_process(process, grace_s=60)


async def wait_until(predicate: Callable[[], Any], *, timeout_s: float = 30.0, interval_s: float = 0.1) -> Any:
    """Poll an (async or sync) predicate until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"condition not met within {timeout_s}s (last value: {last!r})")


async def get_json(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with session.get(url, **kwargs) as response:
        return response.status, await response.json(content_type=None)


def make_work_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    return path


def remove_work_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__ = ["RunningSystem", "TestStack", "start_system", "start_test_stack", "wait_for_http", "wait_until"]
