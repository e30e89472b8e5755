"""Benchmark indicator matching: a batch of observables against a large indicator set.

Both engines: the in-memory index (the hot path) and the SQL path (PostgreSQL, one query per batch).
Synthetic but shaped like real feeds: IPv4 addresses and CIDR ranges, domains and `*.` wildcards,
URLs and SHA-256 digests; about 10% of the observables hit.

    python bench/intel_bench.py                         # 1,000,000 indicators x 10,000 observables
    python bench/intel_bench.py --indicators 100000     # smaller
    python bench/intel_bench.py --dsn postgresql://...  # SQL path against that database
    python bench/intel_bench.py --no-sql                # index only

Without --dsn, a throwaway embedded PostgreSQL is started in a temporary directory and removed.
The run stops with an error if it exceeds --budget seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from acso_threat_hunter.intel.index import IndexedIndicator, IntelIndex
from acso_threat_hunter.intel.models import IndicatorType, Observable, RelatedKind, RelatedObject
from acso_threat_hunter.intel.records import IndicatorRecord

NOW = datetime.now(UTC)
CONTEXT = (
    RelatedObject(id="malware--bench", kind=RelatedKind.MALWARE, name="BenchRAT", relationship="indicates"),
    RelatedObject(
        id="attack-pattern--bench",
        kind=RelatedKind.ATTACK_PATTERN,
        name="Data from Cloud Storage",
        external_id="T1530",
        relationship="uses",
    ),
)
MIGRATION = Path(__file__).parents[1] / "services/threat_hunter/acso_threat_hunter/migrations/0001_intel.sql"


def _ip(n: int) -> str:
    # Spread over 11.0.0.0 - 126.255.255.255 so addresses and ranges interleave like real feeds.
    value = (11 << 24) + (n * 2654435761) % (115 << 24)
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def synthetic(count: int) -> Iterator[IndicatorRecord]:
    """`count` distinct indicators: 55% IPv4, 5% CIDR, 20% domains (1 in 20 a wildcard), 10% URLs, 10% SHA-256."""
    expired = NOW - timedelta(days=1)
    for n in range(count):
        bucket = n % 20
        if bucket < 11:
            itype, value = IndicatorType.IPV4, _ip(n)
        elif bucket == 11:
            base = _ip(n).rsplit(".", 1)[0]
            itype, value = IndicatorType.IPV4, f"{base}.0/24"
        elif bucket < 15:
            itype, value = IndicatorType.DOMAIN, f"{'*.' if n % 100 == 12 else ''}c2-{n}.bench.example"
        elif bucket < 17:
            itype, value = IndicatorType.URL, f"http://drop-{n}.bench.example/p/{n}.bin"
        else:
            itype, value = IndicatorType.SHA256, hashlib.sha256(n.to_bytes(8, "big")).hexdigest()
        yield IndicatorRecord(
            external_id=f"indicator--{uuid.UUID(int=n)}",
            type=itype,
            value=value,
            confidence=50 + n % 50,
            valid_until=expired if n % 97 == 0 else None,
            labels=("malicious-activity",),
            related=CONTEXT if n % 3 == 0 else (),
        )


def observables(records: list[IndicatorRecord], count: int, hit_rate: float, seed: int = 7) -> list[Observable]:
    """`count` observables; `hit_rate` of them are values (or addresses inside ranges) from the set."""
    rng = random.Random(seed)
    out: list[Observable] = []
    for i in range(count):
        if rng.random() < hit_rate:
            rec = records[rng.randrange(len(records))]
            value = rec.value
            if value.endswith(".0/24"):
                value = value[: -len("0/24")] + str(rng.randrange(1, 255))
            elif value.startswith("*."):
                value = "www." + value[2:]
            out.append(Observable(value=value))
        else:
            out.append(Observable(value=rng.choice([f"10.{i % 250}.{i % 199}.{i % 251}", f"benign-{i}.example.org"])))
    return out


def timed(runs: int, fn: object) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return samples


async def timed_async(runs: int, fn: object) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return samples


def row(engine: str, indicators: int, batch: int, load_s: float, samples: list[float], hits: int, extra: str) -> str:
    return (
        f"| {engine:<6} | {indicators:>10,} | {batch:>7,} | {load_s:>8.1f} | {statistics.median(samples) * 1000:>9.1f} "
        f"| {max(samples) * 1000:>8.1f} | {hits:>6,} | {extra:<18} |"
    )


async def sql_bench(records: list[IndicatorRecord], batch: list[Observable], dsn: str | None, runs: int) -> str:
    import asyncpg

    from acso_threat_hunter.intel.repository import IntelRepository

    server = None
    tmp = None
    if dsn is None:
        from acso_shared.local.postgres import EmbeddedPostgres
        from acso_shared.local.processes import free_port

        tmp = tempfile.mkdtemp(prefix="intel-bench-pg-")
        server = EmbeddedPostgres(Path(tmp) / "data", port=free_port())
        server.start()
        await server.ensure_database("intel_bench")
        dsn = server.dsn("intel_bench")
    try:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        schema = f"intel_bench_{uuid.uuid4().hex[:8]}"
        await pool.execute(f'CREATE SCHEMA "{schema}"')
        await pool.close()
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, server_settings={"search_path": schema})
        try:
            await pool.execute(MIGRATION.read_text())
            repo = IntelRepository(pool)
            import_id = uuid.uuid4()
            await pool.execute(
                "INSERT INTO intel_imports (id, source, format, status, submitted_at) "
                "VALUES ($1, 'bench', 'plain', 'running', $2)",
                import_id,
                NOW,
            )
            start = time.perf_counter()
            for i in range(0, len(records), 50_000):
                await repo.upsert_indicators("bench", records[i : i + 50_000], import_id=import_id, now=NOW)
            await pool.execute("ANALYZE")
            load_s = time.perf_counter() - start
            result = await repo.match(batch, NOW)
            samples = await timed_async(runs, lambda: repo.match(batch, NOW))
            return row("sql", len(records), len(batch), load_s, samples, len(result.matches), "COPY+upsert load")
        finally:
            await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await pool.close()
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--observables", type=int, default=10_000)
    parser.add_argument("--hit-rate", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dsn", default=None, help="PostgreSQL URL for the SQL path (default: embedded, throwaway)")
    parser.add_argument("--no-sql", action="store_true", help="benchmark the in-memory index only")
    parser.add_argument("--budget", type=float, default=600.0, help="abort if the whole run takes longer (seconds)")
    args = parser.parse_args()
    started = time.perf_counter()

    def check_budget(stage: str) -> None:
        if time.perf_counter() - started > args.budget:
            raise SystemExit(f"over the {args.budget:.0f}s budget after {stage}")

    records = list(synthetic(args.indicators))
    batch = observables(records, args.observables, args.hit_rate)
    header = (
        "| engine | indicators | batch   | load s   | match ms  | max ms   | hits   | note               |\n"
        "|--------|------------|---------|----------|-----------|----------|--------|--------------------|"
    )
    lines = [header]

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    index = IntelIndex()
    for n, rec in enumerate(records):
        index.upsert(
            IndexedIndicator(
                id=n + 1,
                source="bench",
                external_id=rec.external_id,
                type=rec.type,
                value=rec.value,
                confidence=rec.confidence,
                valid_from=None,
                valid_until=rec.valid_until,
                labels=rec.labels,
                related=rec.related,
            )
        )
    load_s = time.perf_counter() - start
    # ru_maxrss is in KiB on Linux; the growth is what the index costs (the records list is already built).
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    hits = len(index.match(batch, NOW).matches)
    samples = timed(args.runs, lambda: index.match(batch, NOW))
    lines.append(row("memory", len(records), len(batch), load_s, samples, hits, f"+{grown_mib:,.0f} MiB RSS"))
    print("\n".join(lines), flush=True)
    check_budget("the in-memory index")

    if not args.no_sql:
        line = asyncio.run(sql_bench(records, batch, args.dsn, args.runs))
        print(line, flush=True)
        check_budget("the SQL path")
    return 0


if __name__ == "__main__":
    sys.exit(main())
