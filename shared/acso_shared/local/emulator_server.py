"""The emulator's process: moto server, with its state restored at start and saved at stop.

`python -m acso_shared.local.emulator_server -p PORT --state FILE` is what the launcher runs.
Without `--state` it is plain moto server.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acso_shared.local import emulator_state
from acso_shared.local.processes import read_pid_records

SIBLINGS_WAIT_S = 40.0


def _wait_for_siblings(siblings: Path) -> None:
    deadline = time.monotonic() + SIBLINGS_WAIT_S
    while time.monotonic() < deadline:
        records = read_pid_records(siblings.parent)
        if not any(r.name != "emulator" and r.is_alive_and_same() for r in records):
            return
        time.sleep(0.2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acso-emulator")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--state", type=Path, help="restore from this file at start, save to it at stop")
    parser.add_argument("--status", type=Path, help="where to write what the restore found (JSON)")
    parser.add_argument("--siblings", type=Path, help="pid records of the agents to outlive when orphaned")
    args = parser.parse_args(argv)
    launcher = os.getppid()
    if args.state is not None:
        result = emulator_state.restore(args.state)
        message = f"restored {result.services} services" if result.restored else f"fresh: {result.reason}"
        print(f"[acso-emulator] state {message}", flush=True)
        if args.status is not None:
            args.status.parent.mkdir(parents=True, exist_ok=True)
            args.status.write_text(json.dumps(dataclasses.asdict(result)))
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    os.environ.setdefault("MOTO_PORT", str(args.port))
    server = make_server(
        args.host,
        args.port,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )

    def stop(signum: int, _frame: Any) -> None:
        """Stop serving, then save. On the parent-death signal of a killed launcher, the agents got
        the same SIGTERM and drain against the emulator: keep serving them until they are gone,
        so the saved state includes what they wrote."""
        orphaned = signum == signal.SIGTERM and os.getppid() != launcher and args.siblings is not None

        def shutdown() -> None:
            if orphaned:
                _wait_for_siblings(args.siblings)
            server.shutdown()

        threading.Thread(target=shutdown, name="emulator-shutdown", daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        if args.state is not None:
            try:
                emulator_state.save(args.state)
            except Exception as err:  # a service whose objects do not pickle: say so at the next start
                emulator_state.record_failure(args.state, f"{type(err).__name__}: {err}")
                print(f"[acso-emulator] could not save the state: {err}", flush=True)
            else:
                print(f"[acso-emulator] state saved to {args.state}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
