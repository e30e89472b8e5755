"""One alert per event and detection, whichever packs detected it.

Built-in, user and imported rules run together, and a community rule often detects what a
built-in one does (both fire on a `StopLogging`). Two single-event hits are the same detection
when they are on the same CloudTrail event (`eventID`) and name the same ATT&CK techniques (the
sorted set of technique tags; a rule without technique tags is its own detection, keyed by its
rule id). Of such hits the one with the highest level is kept, the first in pack order on a tie
(built-in rules come first), and the others' rule ids are listed in its `also_matched`.
Correlation hits and hits without an eventID are never folded.
"""

from __future__ import annotations

from collections.abc import Sequence

from acso_shared.hunting.models import Hit, Level, RuleKind

_RANK = {level: n for n, level in enumerate(Level)}


def detection_key(hit: Hit) -> tuple[str, ...] | None:
    """(eventID, detection identity) of a single-event hit, or None when it is never folded."""
    if hit.kind is not RuleKind.EVENT or len(hit.event_ids) != 1:
        return None
    identity = tuple(sorted(set(hit.techniques))) or (f"rule:{hit.rule_id}",)
    return (hit.event_ids[0], *identity)


def dedupe_hits(hits: Sequence[Hit]) -> list[Hit]:
    """The hits with duplicates folded (see the module docstring); order is kept."""
    kept: dict[tuple[str, ...], int] = {}
    out: list[Hit] = []
    for hit in hits:
        key = detection_key(hit)
        if key is None:
            out.append(hit)
            continue
        index = kept.get(key)
        if index is None:
            kept[key] = len(out)
            out.append(hit)
            continue
        current = out[index]
        if _RANK[hit.level] > _RANK[current.level]:
            out[index] = hit.model_copy(update={"also_matched": [*current.also_matched, current.rule_id]})
        else:
            current.also_matched.append(hit.rule_id)
    return out
