"""`acso rules lint|import` and `acso hunt`: the detection engineer's tools.

- `acso rules lint PATH...`: compile and lint Sigma files (or folders of them); prints one line
  per problem and exits 1 when any rule does not compile or has an error-level finding.
- `acso rules import PATH`: sort a community pack (a folder, zip or tar, e.g. a SigmaHQ release)
  into imported/skipped/failed and store it in the threat hunter's PostgreSQL
  (`ACSO_DATABASE_URL`), as `POST /v1/rules/imports` does; `--dry-run` only prints the report.
- `acso hunt PATH...`: run the built-in pack (plus `--rules DIR`, and with `--db` the enabled
  user and imported rules of the threat hunter's database, honouring disabled built-ins) over
  local CloudTrail files: a `{"Records": [...]}` document, NDJSON, either gzipped, or the tree
  of an `aws s3 sync` of a trail bucket (digest files skipped; `--account`, `--region`,
  `--since`, `--until` pick files by CloudTrail's key layout). Hits print as JSON lines or a
  table (`--format`). Records stream: memory holds what correlations matched, not the input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from acso_shared.errors import AcsoError, Invalid
from acso_shared.hunting.behaviour import MemoryBaseline, filter_new_behaviour
from acso_shared.hunting.cloudtrail import iter_records
from acso_shared.hunting.compiler import compile_rule
from acso_shared.hunting.dedup import dedupe_hits
from acso_shared.hunting.lint import Severity, lint_text
from acso_shared.hunting.models import Hit
from acso_shared.hunting.pack import RulePack, builtin_rule_texts
from acso_shared.hunting.packs import ImportOutcome, import_pack, read_pack
from acso_shared.hunting.trail_files import KeyFilter

_RULE_SUFFIXES = (".yml", ".yaml")
_LOG_SUFFIXES = (".json", ".json.gz", ".gz", ".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")


def register(commands: Any) -> None:
    """Add `rules` and `hunt` to the `acso` command's sub-parsers."""
    rules = commands.add_parser("rules", help="lint Sigma rules, import community packs").add_subparsers(
        dest="rules_command", required=True
    )
    lint = rules.add_parser("lint", help="compile and lint Sigma rule files or folders")
    lint.add_argument("paths", nargs="+", type=Path)
    lint.add_argument("--format", choices=("text", "json"), default="text")
    lint.set_defaults(func=cmd_rules_lint)
    imp = rules.add_parser("import", help="import a community pack (folder, zip or tar) into the threat hunter")
    imp.add_argument("path", type=Path)
    imp.add_argument("--pack", default="sigmahq", help="the pack's name (default: sigmahq)")
    imp.add_argument("--version", dest="pack_version", help="the pack's version (default: its version.txt)")
    imp.add_argument("--disabled", action="store_true", help="import the rules disabled")
    imp.add_argument("--dry-run", action="store_true", help="print the report without storing anything")
    imp.set_defaults(func=cmd_rules_import)
    hunt = commands.add_parser("hunt", help="run the enabled rule packs over local CloudTrail files")
    hunt.add_argument("paths", nargs="+", type=Path, help="files or folders (an `aws s3 sync` of a trail bucket)")
    hunt.add_argument("--rules", action="append", type=Path, default=[], help="a folder or file of extra rules")
    hunt.add_argument("--no-builtin", action="store_true", help="leave the built-in pack out")
    hunt.add_argument("--db", action="store_true", help="add the enabled rules of the threat hunter's database")
    hunt.add_argument("--format", choices=("json", "table"), default="json")
    hunt.add_argument("--account", action="append", default=[], help="only these accounts' files (repeatable)")
    hunt.add_argument("--region", action="append", default=[], help="only these regions' files (repeatable)")
    hunt.add_argument("--since", type=date.fromisoformat, help="only files of this day (YYYY-MM-DD) or later")
    hunt.add_argument("--until", type=date.fromisoformat, help="only files of this day or earlier")
    hunt.set_defaults(func=cmd_hunt)


def rule_files(paths: Sequence[Path]) -> Iterator[Path]:
    """The Sigma files of some files and folders, in name order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _RULE_SUFFIXES)
        else:
            yield path


def cmd_rules_lint(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print each compile error and lint finding; 1 when any is an error."""
    out = out or sys.stdout
    failed = False
    rows: list[dict[str, Any]] = []
    for path in rule_files(args.paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            rows.append({"file": str(path), "severity": "error", "code": "file_unreadable", "message": str(err)})
            failed = True
            continue
        try:
            compile_rule(text)
        except AcsoError as err:
            rows.append({"file": str(path), "severity": "error", "code": err.code, "message": err.message})
            failed = True
            continue
        for finding in lint_text(text):
            failed = failed or finding.severity is Severity.ERROR
            rows.append({"file": str(path), **finding.model_dump(mode="json", exclude_none=True)})
    for row in rows:
        if args.format == "json":
            out.write(json.dumps(row) + "\n")
        else:
            field = f" [{row['field']}]" if row.get("field") else ""
            out.write(f"{row['file']}: {row['severity']} {row['code']}{field}: {row['message']}\n")
    if args.format == "text":
        out.write(f"{len(rows)} finding(s); {'FAILED' if failed else 'ok'}\n")
    return 1 if failed else 0


def cmd_rules_import(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Sort a pack and store it (unless --dry-run); prints the counts and every failure."""
    out = out or sys.stdout
    try:
        outcome = import_pack(read_pack(args.path), version=args.pack_version)
    except AcsoError as err:
        out.write(f"error {err.code}: {err.message}\n")
        return 2
    results = outcome.results
    counts = outcome.counts
    if not args.dry_run:
        from acso_shared.hunting.pack_store import store_import

        async def go() -> Any:
            import asyncpg

            from acso_shared.settings import ServiceSettings

            pool = await asyncpg.create_pool(ServiceSettings().database_url.get_secret_value(), min_size=1, max_size=2)
            try:
                return await store_import(pool, args.pack, outcome, enabled=not args.disabled, requested_by="cli")
            finally:
                await pool.close()

        report = asyncio.run(go())
        results, counts = report.results, report.counts
        out.write(f"import {report.id}\n")
    out.write(f"pack {args.pack} version {outcome.version}: {json.dumps(counts)}\n")
    for result in results:
        if result.outcome is ImportOutcome.FAILED:
            out.write(f"failed {result.file}: {result.code}: {result.message}\n")
    return 0


def _pack_from(args: argparse.Namespace) -> RulePack:
    texts: dict[str, str] = {} if args.no_builtin else dict(builtin_rule_texts())
    disabled: set[str] = set()
    if args.db:
        stored, disabled = asyncio.run(_database_rules())
        texts.update(stored)
    for path in rule_files(args.rules):
        texts[str(path)] = path.read_text(encoding="utf-8")
    pack = RulePack.from_texts(texts)
    for rule_id in disabled:
        if rule_id in {r.id for r in pack.rules}:
            pack.disable(rule_id)
    return pack


async def _database_rules() -> tuple[dict[str, str], set[str]]:
    """Enabled user and imported rules of the threat hunter's database, and the disabled ids."""
    import asyncpg

    from acso_shared.settings import ServiceSettings

    conn = await asyncpg.connect(ServiceSettings().database_url.get_secret_value())
    try:
        rows = await conn.fetch("SELECT id, yaml, enabled, source FROM hunt_rules")
    finally:
        await conn.close()
    texts = {f"db:{r['id']}": r["yaml"] for r in rows if r["enabled"] and r["source"] != "builtin"}
    return texts, {r["id"] for r in rows if not r["enabled"]}


def log_files(paths: Sequence[Path], keys: KeyFilter) -> Iterator[Path]:
    """The CloudTrail files to read: given files as they are; in folders, log files in name order
    that the filter keeps (digest files never)."""
    for path in paths:
        if path.is_dir():
            for item in sorted(path.rglob("*")):
                relative = item.relative_to(path).as_posix()
                if item.is_file() and item.name.endswith(_LOG_SUFFIXES) and keys.keeps(relative):
                    yield item
        elif keys.keeps(path.as_posix()):
            yield path


def read_logs(files: Iterator[Path]) -> Iterator[dict[str, Any]]:
    """Records of every file, one file open at a time."""
    for path in files:
        with path.open("rb") as handle:
            try:
                yield from iter_records(handle)
            except AcsoError as err:
                raise Invalid(err.code, f"{path}: {err.message}") from err


def cmd_hunt(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Hunt local files; hits as JSON lines or a table."""
    out = out or sys.stdout
    try:
        pack = _pack_from(args)
        keys = KeyFilter(frozenset(args.account), frozenset(args.region), args.since, args.until)
        found = pack.evaluate(read_logs(log_files(args.paths, keys)))
        hits = dedupe_hits(asyncio.run(filter_new_behaviour(found, pack.behaviours, MemoryBaseline())))
    except AcsoError as err:
        sys.stderr.write(f"error {err.code}: {err.message}\n")
        return 2
    for error in pack.errors:
        sys.stderr.write(f"rule {error.source}: {error.code}: {error.message}\n")
    write_hits(hits, args.format, out)
    return 0


def hit_row(hit: Hit) -> dict[str, Any]:
    """What `acso hunt` prints of a hit."""
    row: dict[str, Any] = {
        "rule_id": hit.rule_id,
        "title": hit.title,
        "level": hit.level.value,
        "tags": list(hit.tags),
        "event_ids": hit.event_ids,
        "first_seen": hit.first_seen.isoformat() if hit.first_seen else None,
        "last_seen": hit.last_seen.isoformat() if hit.last_seen else None,
    }
    if hit.group:
        row["group"] = hit.group
    if hit.also_matched:
        row["also_matched"] = hit.also_matched
    return row


def write_hits(hits: Sequence[Hit], fmt: str, out: TextIO) -> None:
    """JSON lines, or an aligned table with one row per hit."""
    if fmt == "json":
        for hit in hits:
            out.write(json.dumps(hit_row(hit)) + "\n")
        return
    header = ("LEVEL", "RULE", "TITLE", "EVENTS", "FIRST SEEN", "TAGS")
    rows = [
        (
            h.level.value,
            h.rule_id,
            h.title,
            ",".join(h.event_ids[:3]) + (f" (+{len(h.event_ids) - 3})" if len(h.event_ids) > 3 else ""),
            h.first_seen.isoformat() if h.first_seen else "",
            ",".join(h.tags),
        )
        for h in hits
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        out.write("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(f"{len(hits)} hit(s)\n")
