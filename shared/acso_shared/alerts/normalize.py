"""`normalize_payload`: a parsed JSON body (one alert or a batch) to NormalizedAlerts, all or nothing.

Every item is checked before anything is returned; if any item is unknown or malformed the whole
payload is rejected with one `Invalid` whose message names the first bad item (index and path)
and whose `details["errors"]` lists up to `MAX_REPORTED_ERRORS` of them. Callers therefore never
store half a batch.

Each item is first made storable (`text.scrub`): NULs and lone surrogates become U+FFFD and the
alert's `notes` record how many, so a character never costs an alert, or its batch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from acso_shared.alerts import generic, guardduty, ocsf, securityhub, splunk
from acso_shared.alerts.common import ErrorCode, ItemError, ParseContext, invalid_from
from acso_shared.alerts.detect import Unit, detect
from acso_shared.alerts.models import NormalizedAlert, SourceFormat
from acso_shared.alerts.text import replaced_note, scrub
from acso_shared.errors import Invalid

DEFAULT_MAX_ITEMS = 500
MAX_REPORTED_ERRORS = 20
UNREADABLE = "a value of an unexpected shape could not be read"

Parser = Callable[[Unit, ParseContext], NormalizedAlert]

_PARSERS: dict[SourceFormat, Parser] = {
    SourceFormat.GUARDDUTY_FINDING: lambda u, c: guardduty.parse(u.item, c, fmt=u.fmt, raw=u.raw),
    SourceFormat.GUARDDUTY_EVENTBRIDGE: lambda u, c: guardduty.parse(u.item, c, fmt=u.fmt, raw=u.raw),
    SourceFormat.ASFF: lambda u, c: securityhub.parse(u.item, c, fmt=u.fmt, raw=u.raw),
    SourceFormat.SECURITYHUB_EVENTBRIDGE: lambda u, c: securityhub.parse(u.item, c, fmt=u.fmt, raw=u.raw),
    SourceFormat.OCSF_DETECTION_FINDING: lambda u, c: ocsf.parse(u.item, c, fmt=u.fmt, raw=u.raw),
    SourceFormat.SECURITYHUB_V2_EVENTBRIDGE: lambda u, c: ocsf.parse(
        u.item, c, fmt=u.fmt, raw=u.raw, source=securityhub.SOURCE
    ),
    SourceFormat.SPLUNK_WEBHOOK: lambda u, c: splunk.parse(u.item, c, fmt=u.fmt, raw=u.raw),
    SourceFormat.ACSO_GENERIC: lambda u, c: generic.parse(u.item, c, fmt=u.fmt, raw=u.raw),
}


def _batch_items(obj: Any) -> list[Any] | None:
    """The items of a batch, or None when `obj` is a single alert."""
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict) and len(obj) == 1:
        for key in ("alerts", "Findings"):
            if isinstance(obj.get(key), list):
                return list(obj[key])
    return None


def _parse_item(index: int, item: Any, ctx: ParseContext, in_batch: bool) -> list[NormalizedAlert]:
    if isinstance(item, list):
        raise ItemError(ErrorCode.FORMAT_UNKNOWN, "nested arrays are not accepted; send one flat array")
    if not isinstance(item, dict):
        raise ItemError(ErrorCode.FORMAT_UNKNOWN, f"each alert must be a JSON object, not {type(item).__name__}")
    if in_batch and _batch_items(item) is not None:
        raise ItemError(ErrorCode.FORMAT_UNKNOWN, "nested batches are not accepted; send one flat array")
    item, replaced = scrub(item)
    alerts: list[NormalizedAlert] = []
    for unit in detect(item):
        try:
            alerts.append(_PARSERS[unit.fmt](unit, ctx))
        except ItemError as err:
            raise err.within(unit.path) if unit.path else err from None
        except ValidationError as err:
            # A value passed the format's own checks but not NormalizedAlert's bounds.
            problem = invalid_from(err, "alert after normalisation")
            raise problem.within(unit.path) if unit.path else problem from None
        except (TypeError, ValueError, AttributeError, LookupError, ArithmeticError, RecursionError) as err:
            # A shape no parser rule anticipated: still the sender's malformed input, never a 500.
            # The fuzz specs fail on this message, so each such case gets a real rule.
            problem = ItemError(ErrorCode.INVALID, f"{UNREADABLE} ({type(err).__name__})")
            raise problem.within(unit.path) if unit.path else problem from None
    if replaced:
        note = replaced_note(replaced)
        alerts = [a.model_copy(update={"notes": [*a.notes, note]}) for a in alerts]
    return alerts


def _reject(errors: list[tuple[int, ItemError]], total: int) -> Invalid:
    index, first = errors[0]
    where = f"item {index}" + (f" ({first.path})" if first.path else "")
    more = f"; {len(errors) - 1} more item(s) invalid" if len(errors) > 1 else ""
    return Invalid(
        first.code,
        f"{where}: {first.problem}{more}; nothing was accepted",
        details={
            "items": total,
            "errors": [
                {"item": i, "path": e.path, "code": e.code, "problem": e.problem}
                for i, e in errors[:MAX_REPORTED_ERRORS]
            ],
        },
    )


def normalize_payload(
    obj: Any, *, max_items: int = DEFAULT_MAX_ITEMS, received_at: datetime | None = None
) -> list[NormalizedAlert]:
    """Normalise a parsed JSON body: one alert, or a batch (array, `{"alerts": [...]}`, `{"Findings": [...]}`).

    Raises `acso_shared.errors.Invalid` with code `alert_format_unknown` (unrecognised item),
    `alert_invalid` (recognised but malformed), `batch_empty`, or `batch_too_large` (more than
    `max_items` items, counted both before and after unwrapping multi-finding events).
    `received_at` stands in for sources that carry no time (a Splunk row without `_time`).
    """
    if not isinstance(obj, dict | list):
        raise Invalid(
            ErrorCode.FORMAT_UNKNOWN,
            f"the body must be a JSON object (one alert) or an array (a batch), not {type(obj).__name__}",
        )
    items = _batch_items(obj)
    in_batch = items is not None
    if items is None:
        items = [obj]
    if not items:
        raise Invalid(ErrorCode.BATCH_EMPTY, "the batch has no alerts")
    if len(items) > max_items:
        raise Invalid(
            ErrorCode.BATCH_TOO_LARGE,
            f"the batch has {len(items)} items; the limit is {max_items}",
            details={"items": len(items), "max_items": max_items},
        )

    ctx = ParseContext(received_at=(received_at or datetime.now(UTC)).astimezone(UTC))
    alerts: list[NormalizedAlert] = []
    errors: list[tuple[int, ItemError]] = []
    for index, item in enumerate(items):
        try:
            alerts.extend(_parse_item(index, item, ctx, in_batch))
        except ItemError as err:
            errors.append((index, err))
    if errors:
        raise _reject(errors, len(items))
    if len(alerts) > max_items:
        raise Invalid(
            ErrorCode.BATCH_TOO_LARGE,
            f"the batch holds {len(alerts)} findings; the limit is {max_items}",
            details={"items": len(alerts), "max_items": max_items},
        )
    return alerts
