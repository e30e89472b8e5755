"""The AWS emulator: moto server on a loopback port, as a child process that dies with its parent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from acso_shared.local.processes import die_with_parent, stop_process, wait_for_http


class MotoServer:
    """moto's HTTP server; every AWS client of the stack points at `url`.

    With `state_path`, the emulator restores its state from that file when it starts and saves
    it there when it stops (`acso_shared.local.emulator_state`); `restore` then says what it found.
    With `pids_dir` (the launcher's pid records), an emulator orphaned by a killed launcher keeps
    serving until the agents have drained, then saves.
    """

    def __init__(
        self,
        port: int,
        *,
        log_path: Path,
        host: str = "127.0.0.1",
        state_path: Path | None = None,
        pids_dir: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._log_path = log_path
        self.state_path = state_path
        self.pids_dir = pids_dir
        self._process: subprocess.Popen[bytes] | None = None
        self.restore: dict[str, Any] = {"restored": False, "reason": "no state kept"}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "acso_shared.local.emulator_server", "-H", self.host, "-p", str(self.port)]
        if self.state_path is not None:
            argv += ["--state", str(self.state_path), "--status", str(self._status_path)]
        if self.pids_dir is not None:
            argv += ["--siblings", str(self.pids_dir)]
        return argv

    @property
    def _status_path(self) -> Path:
        assert self.state_path is not None
        return self.state_path.with_name("restore-status.json")

    def start(self, *, timeout_s: float = 60.0) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.state_path is not None:
            self._status_path.unlink(missing_ok=True)
        log = self._log_path.open("ab")
        env = {**os.environ, "MOTO_ENABLE_ISO_REGIONS": "false"}
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # the launcher starts children from its main thread only
        )
        log.close()
        wait_for_http(f"{self.url}/moto-api/", timeout_s=timeout_s, process=self._process)
        if self.state_path is not None:
            self.restore = json.loads(self._status_path.read_text())

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, grace_s=30)
            self._process = None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None
