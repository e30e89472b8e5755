"""Load benchmark: a realistic alert mix through the whole local system, alert to containment.

Starts the system exactly as `make run` does (free ports, a temporary data dir), measures the
emulator's own SQS ceiling in the same run, then sends --alerts alerts (new threats on real
emulated EC2 instances, repeats of the same detection, redelivered findings, correlated
detections on the same instance) in POST /v1/alerts batches, and waits until every incident is
terminal. Reports the sustained ingestion rate, alert-to-triaged and alert-to-contained latency
p50/p95/p99, the error rate, queue depths over time, and each service's CPU and resident memory.

Bounded: --alerts alerts, --seconds for sending and again for settling. Loopback only. Prints one
markdown table (plus the queue-depth series). The load generator is tests/support/load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.incident_cost import IncidentCost, RepeatCost, one_incident, repeats, rows
from bench.message_path_bench import emulator_ceiling
from tests.support.faults import wait_healthy
from tests.support.load import LoadProfile, LoadReport, Target, run_load
from tests.support.stack import CREDENTIALS, make_work_dir, remove_work_dir, start_system

# The services run with a 1 s long poll (as in the other benchmarks) and a per-principal rate limit
# high enough that the benchmark's single client is not throttled by the API front door.
# ACSO_DATABASE_POOL_MAX: incident response's executor holds a pooled connection (the action's
# advisory lock) while taking a second one; with the default pool of 10 and 10 consumer slots, a
# burst of containment actions starves the pool and the service hangs (reported; see README).
SERVICE_ENV = (
    '{"ACSO_CONSUMER_WAIT_TIME_S": "1", "ACSO_RATE_LIMIT_PRINCIPAL_PER_S": "500", '
    '"ACSO_RATE_LIMIT_PRINCIPAL_BURST": "1000", "ACSO_DATABASE_POOL_MAX": "25"}'
)


def _fmt(values: dict[str, float]) -> str:
    return " / ".join(f"{values[k]:.2f}" for k in ("p50", "p95", "p99")) if values else "n/a"


# What `make run` does not set and the bench does (printed in the table).
SETTINGS_DIFFERING = (
    "ACSO_CONSUMER_WAIT_TIME_S=1 (make run: 20), ACSO_RATE_LIMIT_PRINCIPAL_PER_S=500 (20), "
    "ACSO_RATE_LIMIT_PRINCIPAL_BURST=1000 (120), ACSO_DATABASE_POOL_MAX=25 (10)"
)


def containment_rows(under: LoadReport, burst: LoadReport) -> list[str]:
    """Alert to contained with the per-account action limit (30 a minute): a load under it, then a
    burst over it (the limiter defers actions to the next minutes; every incident still gets contained)."""
    lines = []
    for label, report in (("under the action limit", under), ("a burst over the action limit", burst)):
        summary = report.summary()
        settled = summary["settle_s"] if summary["settle_s"] is not None else "not within the bound"
        lines.append(
            f"| containment, {label}: {summary['incidents']} new incidents at once, alert to contained "
            f"p50 / p95 / p99 (s) | {_fmt(summary['contained'])} ({summary['contained_count']} contained, "
            f"all terminal after {settled} s, {len(report.problems())} reliability problems) |"
        )
    return lines


def table(
    report: LoadReport,
    ceiling: float,
    incident: IncidentCost,
    repeat: RepeatCost,
    contained: tuple[LoadReport, LoadReport],
) -> str:
    """The benchmark's markdown table."""
    summary = report.summary()
    send_s = report.send_finished - report.send_started
    lines = [
        "| metric | value |",
        "|---|---|",
        f"| machine | {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()} |",
        f"| settings that differ from make run | {SETTINGS_DIFFERING} |",
        f"| emulator ceiling: SQS send+receive+delete round trips/s, one client | {ceiling:.1f} |",
        *rows(incident, repeat),
        *containment_rows(*contained),
        f"| alerts sent / accepted | {summary['alerts']} / {summary['accepted']} in {send_s:.1f} s |",
        f"| sustained ingestion rate (alerts/s accepted) | {summary['ingest_rate']:.1f} |",
        f"| incidents opened / workflows | {summary['incidents']} / {summary['workflows']} |",
        f"| HTTP error rate (failed POST attempts, retried) | {summary['error_rate'] * 100:.2f} % |",
        f"| all incidents terminal after (s) | {summary['settle_s'] if summary['settle_s'] is not None else 'no'} |",
        f"| alert to triaged p50 / p95 / p99 (s) | {_fmt(summary['triaged'])} |",
        f"| alert to contained p50 / p95 / p99 (s), {summary['contained_count']} contained | "
        f"{_fmt(summary['contained'])} |",
        f"| reliability problems | {len(report.problems())} |",
    ]
    queues = sorted({q for s in report.queue_samples for q in s.values})
    for queue in queues:
        depths = [s.values.get(queue, 0.0) for s in report.queue_samples]
        lines.append(
            f"| queue {queue}: max / mean depth (visible + in flight) | {max(depths):.0f} / "
            f"{sum(depths) / len(depths):.1f} |"
        )
    for name in sorted({n for s in report.cpu_samples for n in s.values}):
        cpu = [s.values[name] for s in report.cpu_samples if name in s.values]
        rss = [s.values[name] for s in report.rss_samples if name in s.values]
        lines.append(
            f"| {name}: CPU mean / max (%), RSS max (MiB) | {sum(cpu) / len(cpu):.0f} / {max(cpu):.0f}, "
            f"{max(rss):.0f} |"
        )
    return "\n".join(lines)


def depth_series(report: LoadReport, every_s: float = 5.0) -> str:
    """Queue depths over time, one line per `every_s` seconds."""
    queues = sorted({q for s in report.queue_samples for q in s.values})
    lines = ["| t (s) | " + " | ".join(queues) + " |", "|---" * (len(queues) + 1) + "|"]
    next_at = 0.0
    for sample in report.queue_samples:
        at = sample.at - report.send_started
        if at >= next_at:
            lines.append(f"| {at:.0f} | " + " | ".join(f"{sample.values.get(q, 0):.0f}" for q in queues) + " |")
            next_at = at + every_s
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=400, help="alerts to send (a quarter are new threats)")
    parser.add_argument("--seconds", type=float, default=45.0, help="bound of the send phase and of settling")
    parser.add_argument("--concurrency", type=int, default=4, help="POST batches in flight")
    parser.add_argument("--repeats", type=int, default=2000, help="repeats of one detection, in batches of 100")
    parser.add_argument("--contain", type=int, default=10, help="new threats at once, under the action limit")
    parser.add_argument("--burst", type=int, default=40, help="new threats at once, over the action limit")
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    work_dir = make_work_dir("acso-load-bench-")
    try:
        for system in start_system(work_dir, {"ACSO_SERVICE_ENV": SERVICE_ENV}):
            # Also warms each service's JWKS cache: the first requests after a start are not the steady state.
            asyncio.run(wait_healthy(system))
            ceiling = asyncio.run(emulator_ceiling(system.emulator_url, seconds=5))
            incident = asyncio.run(one_incident(system))
            repeat = asyncio.run(repeats(system, alerts=args.repeats))
            target = Target(
                supervisor_url=system.url("supervisor"),
                incident_response_url=system.url("incident_response"),
                headers=system.auth("admin"),
                pids=system.pids,
            )
            # Half the new threats are GuardDuty EC2 findings (snapshot, quarantine, tag, block: about
            # four actions each); the generic ones match no playbook.
            only_new = {"new_fraction": 1.0, "correlated_fraction": 0.0, "redelivered_fraction": 0.0}
            under = asyncio.run(
                run_load(
                    target,
                    LoadProfile(alerts=args.contain, send_timeout_s=args.seconds, settle_timeout_s=60, **only_new),
                    emulator_url=system.emulator_url,
                )
            )
            burst = asyncio.run(
                run_load(
                    target,
                    LoadProfile(alerts=args.burst, send_timeout_s=args.seconds, settle_timeout_s=240, **only_new),
                    emulator_url=system.emulator_url,
                )
            )
            profile = LoadProfile(
                alerts=args.alerts,
                concurrency=args.concurrency,
                send_timeout_s=args.seconds,
                settle_timeout_s=args.seconds,
            )
            started = time.monotonic()
            report = asyncio.run(run_load(target, profile, emulator_url=system.emulator_url))
            print(f"\n## Load: alert to containment through the whole system ({time.monotonic() - started:.0f} s)\n")
            print(table(report, ceiling, incident, repeat, (under, burst)))
            print("\n### Queue depth over time (visible + in flight)\n")
            print(depth_series(report))
            problems = report.problems()
            if problems:
                print(f"\n{len(problems)} reliability problems, e.g.: {problems[:3]}")
    finally:
        remove_work_dir(work_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
