"""The launcher behind `make run`: emulator, database, resources, migrations, the five agents.

Like ECS would, it restarts an agent process that dies, and on Ctrl-C/SIGTERM/SIGHUP it stops the
agents first (each drains its in-flight messages), then PostgreSQL, then the emulator, which saves
its state. The next start restores that state, so the Cognito pool (its id, clients, users and
their `sub`s), the instances, keys, buckets, queues and messages the database refers to are all
still there, and tokens issued before the restart still verify. When there is no state to restore
(first start, `fresh`, an emulator that could not save), the launcher says so and resets the
database with it, so nothing in it names resources that no longer exist.

The emulator and the agents die with the launcher (a parent-death signal); PostgreSQL runs as a
daemon. Whatever a killed launcher still left running on this data directory (found through the
pid records in `run/pids/` and `postgres/postmaster.pid`, checked against each process's command
line) is stopped by the next start, which says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.db import apply_migrations
from acso_shared.db.registry import all_migrations
from acso_shared.local.emulator import MotoServer
from acso_shared.local.postgres import EmbeddedPostgres, has_acso_schema, reset_schema
from acso_shared.local.processes import (
    die_with_parent,
    pid_alive,
    port_in_use,
    read_pid,
    remove_pid_record,
    stop_process,
    stop_stale_children,
    wait_for_http,
    write_pid_record,
)
from acso_shared.provision import ProvisionedStack, Provisioner
from acso_shared.resources import Agent
from acso_shared.settings import REPO_ROOT, AcsoSettings

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class LauncherSettings(AcsoSettings):
    """Settings of the local launcher (`acso run`)."""

    model_config = SettingsConfigDict(env_prefix="ACSO_", extra="ignore", frozen=True)

    data_dir: Path = REPO_ROOT / ".acso"
    emulator_port: int = Field(default=4566, ge=1, le=65535)
    postgres_port: int = Field(default=55432, ge=1, le=65535)
    base_port: int = Field(default=8000, ge=1, le=65500)
    database_url: str | None = None
    ready_timeout_s: float = 90.0
    restart_crashed: bool = True
    service_env: dict[str, str] = Field(default_factory=dict)
    fresh: bool = Field(default=False, description="Start from nothing: no emulator state, an empty database")

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def emulator_state_path(self) -> Path:
        return self.data_dir / "emulator" / "state.pickle"

    def port_of(self, agent: Agent) -> int:
        return self.base_port + list(Agent).index(agent)


@dataclass
class ServiceProcess:
    agent: Agent
    port: int
    env: dict[str, str]
    log_path: Path
    run_dir: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        argv = [sys.executable, "-m", f"acso_{self.agent.value}"]
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # started and restarted from the main thread only
        )
        log.close()
        write_pid_record(self.run_dir, self.agent.value, self.process.pid, argv)
        self.started_at = time.monotonic()


class LocalStack:
    def __init__(self, settings: LauncherSettings) -> None:
        self.settings = settings
        self.run_dir = settings.run_dir
        self.logs_dir = settings.data_dir / "logs"
        self.emulator = MotoServer(
            settings.emulator_port,
            log_path=self.logs_dir / "emulator.log",
            state_path=settings.emulator_state_path,
            pids_dir=self.run_dir / "pids",
        )
        self.postgres: EmbeddedPostgres | None = None
        self.services: dict[Agent, ServiceProcess] = {}
        self.stack: ProvisionedStack | None = None
        self.database_url = ""
        self._stopping = False

    # -- preflight ---------------------------------------------------------------------------
    def check_not_running(self) -> None:
        pid = read_pid(self.run_dir / "launcher.pid")
        if pid and pid != os.getpid() and pid_alive(pid):
            info = self._read_state()
            url = info.get("services", {}).get("supervisor", "http://127.0.0.1:8000")
            raise SystemExit(
                f"ACSO is already running (launcher pid {pid}; supervisor at {url}).\n"
                f"Stop it with Ctrl-C in its terminal or `kill {pid}`, then run again."
            )
        self.stop_stale()
        busy = [p for p in self._ports() if port_in_use(p)]
        if busy:
            raise SystemExit(
                f"Port(s) {', '.join(map(str, busy))} are in use by another program. "
                "Free them or choose others with ACSO_EMULATOR_PORT, ACSO_BASE_PORT and ACSO_POSTGRES_PORT."
            )

    def stop_stale(self) -> list[str]:
        """Stop what a killed launcher left running on this data directory; say what it was."""
        stopped = [f"{r.name} (pid {r.pid})" for r in stop_stale_children(self.run_dir)]
        if not self.settings.database_url:
            pid = EmbeddedPostgres(self.settings.data_dir / "postgres", self.settings.postgres_port).stop_stale()
            if pid is not None:
                stopped.append(f"postgresql (pid {pid})")
        if stopped:
            print(
                f"[acso] an earlier launcher of {self.settings.data_dir} was killed; stopped what it left running: "
                + ", ".join(stopped),
                flush=True,
            )
        return stopped

    def _ports(self) -> list[int]:
        ports = [self.settings.emulator_port, *(self.settings.port_of(a) for a in Agent)]
        if not self.settings.database_url:
            ports.append(self.settings.postgres_port)
        return ports

    # -- start -------------------------------------------------------------------------------
    def start_infrastructure(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "launcher.pid").write_text(str(os.getpid()))
        if self.settings.fresh:
            self.settings.emulator_state_path.unlink(missing_ok=True)
            (self.run_dir / "stack.json").unlink(missing_ok=True)
        self.emulator.start()
        assert self.emulator.pid is not None
        write_pid_record(self.run_dir, "emulator", self.emulator.pid, self.emulator.argv)
        if self.settings.database_url:
            self.database_url = self.settings.database_url
        else:
            self.postgres = EmbeddedPostgres(self.settings.data_dir / "postgres", self.settings.postgres_port)
            self.postgres.start()
            asyncio.run(self.postgres.ensure_database("acso"))
            self.database_url = self.postgres.dsn("acso")
        self._match_database_to_emulator()
        self.stack = asyncio.run(self._provision_and_migrate())
        (self.run_dir / "stack.json").write_text(self.stack.to_json())
        os.chmod(self.run_dir / "stack.json", 0o600)

    def _match_database_to_emulator(self) -> None:
        """The database keeps only what the emulator kept: reset it when the emulator starts fresh."""
        restore = self.emulator.restore
        if restore.get("restored"):
            print(f"[acso] emulator state restored from the last run ({self.settings.emulator_state_path})", flush=True)
            if not self.settings.fresh:
                return
        why = "FRESH was asked for" if self.settings.fresh else str(restore.get("reason", "no saved state"))
        if not asyncio.run(has_acso_schema(self.database_url)):
            # An empty database: nothing in it can name a resource the emulator lost.
            print(f"[acso] the emulator starts fresh ({why}), and so does the empty database.", flush=True)
            return
        if self.postgres is not None:
            print(
                f"[acso] the emulator starts fresh ({why}): resetting the database with it "
                "(incidents, actions, workflows and users' data of earlier runs are removed).",
                flush=True,
            )
            asyncio.run(self.postgres.recreate_database("acso"))
        elif self.settings.fresh:
            print("[acso] FRESH was asked for: emptying the database at ACSO_DATABASE_URL.", flush=True)
            asyncio.run(reset_schema(self.database_url))
        else:
            print(
                f"[acso] the emulator starts fresh ({why}), but the database at ACSO_DATABASE_URL is yours "
                "and is kept: its incidents may name resources that no longer exist. Run with FRESH=1 to empty it too.",
                flush=True,
            )

    async def _provision_and_migrate(self) -> ProvisionedStack:
        previous_path = self.run_dir / "stack.json"
        previous = ProvisionedStack.from_json(previous_path.read_text()) if previous_path.exists() else None
        settings = self.settings.model_copy(update={"aws_endpoint_url": self.emulator.url})
        with _aws_environment():
            clients = AwsClientFactory(settings)
            try:
                stack = await Provisioner(clients, settings.manifest).provision(previous)
            finally:
                await clients.aclose()
        await apply_migrations(self.database_url, all_migrations())
        return stack

    def service_environment(self, agent: Agent) -> dict[str, str]:
        assert self.stack is not None
        pool = self.stack.user_pool_id
        env = {
            # moto has no Config compliance queries: asking would only fill its log with errors.
            # Set it in the environment (or ACSO_SERVICE_ENV) against an emulator that has them.
            "ACSO_CONFIG_COMPLIANCE_ENABLED": "false",
            # Containment may touch the emulator's account, and only it (no default outside local).
            # Incident response's containment allow-list (the one service that reads it), as the JSON
            # list Terraform writes too.
            **(
                {"ACSO_ALLOWED_ACCOUNT_IDS": json.dumps([self.settings.aws_account_id])}
                if agent is Agent.INCIDENT_RESPONSE
                else {}
            ),
            **os.environ,
            **LOCAL_CREDENTIALS,
            "AWS_REGION": self.settings.aws_region,
            "AWS_ENDPOINT_URL": self.emulator.url,
            "ACSO_ENV": self.settings.env,
            "ACSO_AWS_ACCOUNT_ID": self.settings.aws_account_id,
            "ACSO_DATABASE_URL": self.database_url,
            "ACSO_SERVICE_HOST": "127.0.0.1",
            "ACSO_SERVICE_PORT": str(self.settings.port_of(agent)),
            "ACSO_COGNITO_USER_POOL_ID": pool,
            "ACSO_COGNITO_APP_CLIENT_ID": self.stack.app_client_id,
            "ACSO_COGNITO_MACHINE_CLIENT_ID": self.stack.machine_client_id,
            "ACSO_JWT_ISSUER": f"https://cognito-idp.{self.settings.aws_region}.amazonaws.com/{pool}",
            "ACSO_JWKS_URL": f"{self.emulator.url}/{pool}/.well-known/jwks.json",
            "ACSO_LOG_LEVEL": self.settings.log_level,
            **self.settings.service_env,
        }
        return env

    def start_services(self) -> None:
        for agent in Agent:
            service = ServiceProcess(
                agent=agent,
                port=self.settings.port_of(agent),
                env=self.service_environment(agent),
                log_path=self.logs_dir / f"{agent.value}.log",
                run_dir=self.run_dir,
            )
            service.start()
            self.services[agent] = service
        self._write_state()

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.settings.ready_timeout_s
        for service in self.services.values():
            remaining = max(1.0, deadline - time.monotonic())
            while True:
                if service.process is not None and service.process.poll() is not None:
                    raise RuntimeError(
                        f"{service.agent.value} exited with {service.process.returncode}; see {service.log_path}\n"
                        f"{_tail(service.log_path)}"
                    )
                try:
                    status = wait_for_http(f"{service.url}/readyz", timeout_s=remaining, process=service.process)
                except (RuntimeError, TimeoutError) as err:
                    raise RuntimeError(f"{service.agent.value}: {err}\n{_tail(service.log_path)}") from err
                if status == 200:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service.agent.value} not ready; see {service.log_path}")
                time.sleep(0.2)

    # -- supervise ---------------------------------------------------------------------------
    def supervise(self) -> None:
        """Restart agents that die (with backoff) until asked to stop."""
        while not self._stopping:
            for service in self.services.values():
                process = service.process
                if process is None or process.poll() is None or self._stopping:
                    continue
                if not self.settings.restart_crashed:
                    continue
                delay = min(2 ** min(service.restarts, 5), 30) if time.monotonic() - service.started_at < 30 else 1
                print(
                    f"[acso] {service.agent.value} exited with {process.returncode}; restarting in {delay}s", flush=True
                )
                time.sleep(delay)
                if self._stopping:
                    break
                service.restarts += 1
                service.start()
                self._write_state()
            time.sleep(0.5)

    def request_stop(self) -> None:
        self._stopping = True

    def stop(self) -> None:
        self._stopping = True
        for service in self.services.values():
            if service.process is not None and service.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    service.process.send_signal(signal.SIGTERM)
        for service in self.services.values():
            if service.process is not None:
                stop_process(service.process, grace_s=30)
        for service in self.services.values():
            remove_pid_record(self.run_dir, service.agent.value)
        if self.postgres is not None:
            self.postgres.stop()
        self.emulator.stop()
        remove_pid_record(self.run_dir, "emulator")
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / "launcher.pid").unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / "state.json").unlink()

    # -- state for tools (CLI, tests, benchmarks) --------------------------------------------
    def _write_state(self) -> None:
        state = {
            "launcher_pid": os.getpid(),
            "emulator_url": self.emulator.url,
            "emulator_pid": self.emulator.pid,
            "database_url": self.database_url,
            "services": {s.agent.value: s.url for s in self.services.values()},
            "pids": {s.agent.value: s.process.pid for s in self.services.values() if s.process},
        }
        path = self.run_dir / "state.json"
        path.write_text(json.dumps(state, indent=2))
        os.chmod(path, 0o600)

    def _read_state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.run_dir / "state.json").read_text())
            return data
        except (FileNotFoundError, ValueError):
            return {}


def _tail(path: Path, lines: int = 25) -> str:
    """The end of a service's log, for a start-up failure message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


@contextlib.contextmanager
def _aws_environment() -> Any:
    """botocore reads credentials from the environment; give it the emulator's dummy ones if unset."""
    saved = {k: os.environ.get(k) for k in LOCAL_CREDENTIALS}
    for key, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        for key, previous in saved.items():
            if previous is None:
                os.environ.pop(key, None)


def run(settings: LauncherSettings) -> int:
    """`acso run`: start everything, print how to use it, stop cleanly on Ctrl-C or SIGTERM."""
    stack = LocalStack(settings)
    stack.check_not_running()

    def on_signal(signum: int, _frame: Any) -> None:
        stack.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)  # a closed terminal stops everything cleanly too
    started = time.monotonic()
    try:
        print(f"[acso] starting the AWS emulator on {stack.emulator.url} and PostgreSQL ...", flush=True)
        stack.start_infrastructure()
        print("[acso] resources provisioned, migrations applied; starting the five agents ...", flush=True)
        stack.start_services()
        stack.wait_until_ready()
        print(_banner(stack, time.monotonic() - started), flush=True)
        stack.supervise()
    except (RuntimeError, TimeoutError) as err:
        print(f"[acso] failed to start: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("[acso] stopping ...", flush=True)
        stack.stop()
        print("[acso] stopped.", flush=True)
    return 0


def _banner(stack: LocalStack, elapsed: float) -> str:
    lines = ["", f"ACSO is running (ready in {elapsed:.1f}s). Services:"]
    for service in stack.services.values():
        lines.append(f"  {service.agent.value:<24} {service.url}   (OpenAPI: {service.url}/openapi.json)")
    lines += [
        f"  {'aws emulator':<24} {stack.emulator.url}",
        f"  {'postgresql':<24} {stack.database_url}",
        "",
        "Get a token for a demo user (roles: analyst, responder, it_operator, executive, admin):",
        "  TOKEN=$(make token ROLE=responder)",
        f'  curl -H "Authorization: Bearer $TOKEN" {stack.services[Agent.SUPERVISOR].url}/v1/agents',
        "",
        "The README walkthrough (alert, incident, approval, containment): make demo",
        "",
        f"Logs: {stack.logs_dir}/   Stop: Ctrl-C",
    ]
    return "\n".join(lines)
