"""The AWS emulator: moto server on a loopback port, as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from acso_shared.local.processes import stop_process, wait_for_http


class MotoServer:
    """moto's HTTP server; every AWS client of the stack points at `url`."""

    def __init__(self, port: int, *, log_path: Path, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, *, timeout_s: float = 60.0) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self._log_path.open("ab")
        env = {**os.environ, "MOTO_ENABLE_ISO_REGIONS": "false"}
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        wait_for_http(f"{self.url}/moto-api/", timeout_s=timeout_s, process=self._process)

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, grace_s=5)
            self._process = None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None
