"""Small helpers for child processes and ports of the local stack."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: kill(0) is all we know
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


# -- children that die with the launcher, and what a killed launcher left behind ----------------

_PR_SET_PDEATHSIG = 1


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# Loaded once in the parent: a child between fork and exec must not load libraries.
_LIBC = _load_libc()


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` that makes the child receive SIGTERM when its parent dies (Linux).

    The kernel sends the signal when the *thread* that forked the child exits, so start such
    children from a thread that lives as long as the launcher (the launcher starts and restarts
    them from its main thread). If the parent died before the child set it, the child stops at
    once. A no-op elsewhere: there the next start finds the survivors through their pid records.
    """
    parent = os.getpid()
    libc = _LIBC

    def preexec() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _proc_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def process_cmdline(pid: int) -> list[str] | None:
    """The argv of a live process, or None when it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        if not Path("/proc").is_dir():
            ps = subprocess.run(  # noqa: S603 - fixed argv
                ["/bin/ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, check=False
            )
            return ps.stdout.split() if ps.returncode == 0 and ps.stdout.strip() else None
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part] or None


@dataclass(frozen=True)
class PidRecord:
    """A child the launcher started: enough to recognise it later, and never to kill a stranger."""

    name: str
    pid: int
    argv: list[str]
    start_ticks: int | None

    def is_alive_and_same(self) -> bool:
        """Alive, with the command line it was started with, and not a newer process on a reused pid."""
        if not pid_alive(self.pid):
            return False
        if process_cmdline(self.pid) != self.argv:
            return False
        ticks = _proc_start_ticks(self.pid)
        return self.start_ticks is None or ticks is None or ticks == self.start_ticks


def write_pid_record(run_dir: Path, name: str, pid: int, argv: Sequence[str]) -> None:
    directory = run_dir / "pids"
    directory.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "pid": pid, "argv": list(argv), "start_ticks": _proc_start_ticks(pid)}
    (directory / f"{name}.json").write_text(json.dumps(record))


def remove_pid_record(run_dir: Path, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (run_dir / "pids" / f"{name}.json").unlink()


def read_pid_records(run_dir: Path) -> list[PidRecord]:
    records = []
    for path in sorted((run_dir / "pids").glob("*.json")):
        try:
            data = json.loads(path.read_text())
            records.append(PidRecord(data["name"], int(data["pid"]), list(data["argv"]), data.get("start_ticks")))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return records


def stop_pid(pid: int, *, grace_s: float) -> None:
    """SIGTERM a process that is not our child, wait for it to go, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def stop_stale_children(run_dir: Path, *, grace_s: float = 30.0) -> list[PidRecord]:
    """Stop every recorded child still running from an earlier launcher; the agents before the emulator.

    A record whose pid is gone, or now belongs to another program, is only removed.
    """
    records = read_pid_records(run_dir)
    stale = [r for r in records if r.is_alive_and_same()]
    agents = [r for r in stale if r.name != "emulator"]
    for record in agents:  # all at once, so they drain in parallel
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)
    for record in [*agents, *(r for r in stale if r.name == "emulator")]:
        stop_pid(record.pid, grace_s=grace_s)
    for record in records:
        remove_pid_record(run_dir, record.name)
    return stale
