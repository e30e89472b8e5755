"""Ports for servers a test starts later: never handed out twice, never an outgoing connection's.

Asking the OS for a free port (bind to 0) and binding it later leaves a window in which another
process, or an outgoing connection, takes it. Ports here come from below Linux's ephemeral range
(32768-60999 by default), which outgoing connections never use; each pytest-xdist worker draws
from its own slice, and a process never hands the same port out twice.
"""

from __future__ import annotations

import os
import random
import socket

_LOW, _HIGH = 20000, 32000
_handed_out: set[int] = set()


def _slice() -> tuple[int, int]:
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = (_HIGH - _LOW) // workers
    low = _LOW + (index % workers) * size
    return low, low + size


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def reserve_ports(count: int = 1) -> int:
    """The first of `count` consecutive free ports reserved for this process."""
    low, high = _slice()
    for _ in range(500):
        base = random.randrange(low, high - count)
        block = range(base, base + count)
        if _handed_out.isdisjoint(block) and all(_bindable(p) for p in block):
            _handed_out.update(block)
            return base
    raise RuntimeError(f"no {count} consecutive free ports in {low}-{high}")
