"""Small helpers for child processes and ports of the local stack."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# Ports for servers started a moment later. Asking the OS for a free port (bind to 0) and binding
# it later leaves a window in which another process, or an outgoing connection, takes it. These
# come from below Linux's ephemeral range (32768-60999), which outgoing connections never use; each
# pytest-xdist worker draws from its own slice, and a process never hands a port out twice.
_PORT_LOW, _PORT_HIGH = 20000, 32000
_handed_out: set[int] = set()


def _port_slice() -> tuple[int, int]:
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = (_PORT_HIGH - _PORT_LOW) // workers
    low = _PORT_LOW + (index % workers) * size
    return low, low + size


def _bindable(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(count: int = 1, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive free ports, reserved for this process (tests, benchmarks)."""
    low, high = _port_slice()
    for _ in range(500):
        base = random.randrange(low, high - count)
        block = range(base, base + count)
        if _handed_out.isdisjoint(block) and all(_bindable(p, host) for p in block):
            _handed_out.update(block)
            return base
    raise RuntimeError(f"no {count} consecutive free ports in {low}-{high}")


def wait_for_http(url: str, *, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> int:
    """Poll `url` until it answers with any HTTP status; return that status."""
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URLs we build
                return int(response.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except (urllib.error.URLError, OSError) as err:
            last_error = str(err)
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f}s ({last_error})")


def stop_process(process: subprocess.Popen[bytes], *, grace_s: float = 20.0) -> None:
    """SIGTERM, wait for the graceful drain, then SIGKILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=5)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
