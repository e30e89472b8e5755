"""Feed hygiene between parsing and storage: what must never become an indicator, and what is kept
but flagged.

- An IP range broader than the configured prefix (default: shorter than /8 for IPv4, /32 for
  IPv6) is refused with a warning: a `0.0.0.0/0` indicator would make every address a hit.
- A value on a MISP warning list (public resolvers, top-site domains, hashes of empty files...,
  `pymispwarninglists`, whose data ships inside the package) is kept but flagged with the lists'
  names; triage does not raise a score on such a hit alone (`triage/scoring.py`).
- Text PostgreSQL cannot store (NUL, lone surrogates) in descriptions, labels or ids is replaced
  by U+FFFD with a warning, so one such character cannot fail the import's database write.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import threading
from dataclasses import dataclass, replace
from typing import Any

from acso_shared.web.text import text_problem

from .models import IndicatorType
from .records import IndicatorRecord, ParsedFeed

_lists_lock = threading.Lock()
_lists: Any = None


@dataclass(frozen=True)
class HygienePolicy:
    """The narrowest prefix an IP-range indicator may have (`/8` allows `10.0.0.0/8`)."""

    min_ipv4_prefix: int = 8
    min_ipv6_prefix: int = 32

    def too_broad(self, record: IndicatorRecord) -> int | None:
        """The minimum prefix when `record` is a range broader than it, else None."""
        if record.type not in (IndicatorType.IPV4, IndicatorType.IPV6) or "/" not in record.value:
            return None
        net = ipaddress.ip_network(record.value, strict=False)
        minimum = self.min_ipv4_prefix if net.version == 4 else self.min_ipv6_prefix
        return minimum if net.prefixlen < minimum else None


def _warning_lists() -> Any:
    global _lists
    with _lists_lock:
        if _lists is None:
            from pymispwarninglists.api import WarningLists

            # slow_search=False: exact and suffix look-ups, ~0.05 ms a value; loading takes ~1 s once.
            _lists = WarningLists(slow_search=False)
        return _lists


async def load_warning_lists() -> None:
    """Load the lists off the event loop (about a second, once per process)."""
    if _lists is None:
        await asyncio.to_thread(_warning_lists)


@functools.lru_cache(maxsize=65_536)
def warninglists_for(value: str) -> tuple[str, ...]:
    """Names of the MISP warning lists `value` is on (canonical indicator text), sorted."""
    return tuple(sorted({hit.name for hit in _warning_lists().search(value)}))


def _storable(text: str | None) -> str | None:
    if text is None or text_problem(text) is None:
        return text
    cleaned = text.replace("\x00", "\ufffd")
    return cleaned.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if text_problem(cleaned) else cleaned


def _clean_text(record: IndicatorRecord) -> IndicatorRecord | None:
    fields = (record.external_id, record.description, record.pattern, *record.labels)
    if all(text is None or text_problem(text) is None for text in fields):
        return None
    return replace(
        record,
        external_id=_storable(record.external_id) or "",
        description=_storable(record.description),
        pattern=_storable(record.pattern),
        labels=tuple(_storable(label) or "" for label in record.labels),
    )


def apply_hygiene(feed: ParsedFeed, policy: HygienePolicy) -> ParsedFeed:
    """Refuse over-broad ranges, make text storable, report values on warning lists (in place; the
    flag itself is read from the lists whenever an indicator is shown or matched, see
    `warninglists_for`, so it follows the shipped lists without a re-import)."""
    kept: list[IndicatorRecord] = []
    flagged: list[tuple[IndicatorRecord, tuple[str, ...]]] = []
    for record in feed.indicators:
        minimum = policy.too_broad(record)
        if minimum is not None:
            feed.warn(
                f"refused {record.external_id}: {record.value} is broader than /{minimum} (it would match too much)"
            )
            continue
        cleaned = _clean_text(record)
        if cleaned is not None:
            feed.note(f"{record.external_id}: text PostgreSQL cannot store was replaced by U+FFFD")
            record = cleaned
        lists = warninglists_for(record.value)
        if lists:
            flagged.append((record, lists))
        kept.append(record)
    for record, lists in flagged[:10]:
        feed.note(f"flagged {record.value} ({record.external_id}), kept: on MISP warning lists {', '.join(lists)}")
    if len(flagged) > 10:
        feed.note(f"flagged {len(flagged) - 10} more indicators on MISP warning lists, kept")
    feed.indicators = kept
    return feed
