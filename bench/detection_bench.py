"""Benchmark: detection quality of the built-in pack on a labelled CloudTrail corpus.

The corpus (tests/fixtures/cloudtrail/corpus.py) holds one attack sequence per Stratus Red Team
AWS technique mixed into a day of an account's noise (Terraform apply and destroy, CloudFormation
and CDK, a CI deploy role, console sessions, AWS service principals, application roles, a few
unusual but legitimate human actions). Prints recall per technique (detected: a hit holds one of
its events) and, over events, precision (flagged attack events / flagged events) and recall
(flagged attack events / attack events), for:

- the built-in pack with its default suppressions (what ACSO runs);
- the built-in pack without suppressions (what the rules alone do);
- a community pack, when given: `--community DIR` (e.g. a SigmaHQ checkout's
  rules/cloud/aws/cloudtrail), run unmodified, without suppressions. ACSO does not ship it.

Run as `python bench/detection_bench.py [--community DIR]`. The corpus is the project's own: the
figures say how the pack generalises only as far as the corpus is realistic; held-out real logs
are the real test.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from acso_shared.hunting.pack import RulePack, builtin_rule_texts  # noqa: E402
from acso_shared.hunting.suppression import Suppressions  # noqa: E402
from tests.fixtures.cloudtrail.corpus import TECHNIQUES, build  # noqa: E402


def _community_texts(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.yml"))}


def evaluate(pack: RulePack, corpus: list[tuple[dict, str | None]]) -> dict[str, object]:
    labels = {e["eventID"]: label for e, label in corpus}
    hits = pack.evaluate([e for e, _ in corpus])
    flagged: set[str] = set()
    detected: dict[str, set[str]] = defaultdict(set)
    for hit in hits:
        for event_id in hit.event_ids:
            flagged.add(event_id)
            label = labels.get(event_id)
            if label:
                detected[label].add(hit.title)
    attack_events = {i for i, label in labels.items() if label}
    true_flags = flagged & attack_events
    return {
        "detected": detected,
        "precision": len(true_flags) / len(flagged) if flagged else 0.0,
        "recall": len(true_flags) / len(attack_events) if attack_events else 0.0,
        "flagged": len(flagged),
        "false": len(flagged - attack_events),
        "rules": len(pack.rules),
        "errors": len(pack.errors),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--community", type=Path, default=os.environ.get("ACSO_BENCH_COMMUNITY_RULES") or None)
    args = parser.parse_args(argv)
    corpus = build()
    runs: dict[str, dict[str, object]] = {
        "built-in": evaluate(RulePack.from_texts(builtin_rule_texts()), corpus),
    }
    bare = RulePack.from_texts(builtin_rule_texts())
    bare.suppressions = Suppressions.none()
    runs["built-in, no suppressions"] = evaluate(bare, corpus)
    if args.community:
        community = RulePack.from_texts(_community_texts(args.community))
        community.suppressions = Suppressions.none()
        runs["community"] = evaluate(community, corpus)
    names = list(runs)
    attack = sum(1 for _, label in corpus if label)
    noise = len(corpus) - attack
    print(f"Corpus: {len(corpus)} events, {attack} attack events in {len(TECHNIQUES)} techniques, {noise} noise")
    if not args.community:
        print("Community pack: not run (pass --community DIR, e.g. SigmaHQ rules/cloud/aws/cloudtrail)")
    print()
    print("| technique | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for technique in TECHNIQUES:
        cells = ["yes" if technique in runs[n]["detected"] else "**no**" for n in names]  # type: ignore[operator]
        print(f"| {technique} | " + " | ".join(cells) + " |")
    print()
    print("| pack | rules | techniques detected | event precision | event recall | flagged | false positives |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        r = runs[name]
        found = sum(1 for t in TECHNIQUES if t in r["detected"])  # type: ignore[operator]
        print(
            f"| {name} | {r['rules']} | {found}/{len(TECHNIQUES)} | {r['precision']:.0%} | {r['recall']:.0%} "
            f"| {r['flagged']} | {r['false']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
