"""Bounded query-parameter types: every date, day count, limit and cursor is range-checked by
`parse_query` before a handler uses it (an unbounded date reached `date - timedelta` and raised
OverflowError, a 500). Request and query models use these instead of bare `date`/`int`/`str`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Final

from pydantic import AfterValidator, Field

# Cost, alert and incident data never predate AWS or reach past this century; anything outside is
# a typo or a probe, and arithmetic on it (a window of `days` before `end`) stays in range.
EARLIEST_DAY: Final = date(2000, 1, 1)
LATEST_DAY: Final = date(2099, 12, 31)
EARLIEST_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME: Final = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
MAX_CURSOR_CHARS: Final = 512


def _aware(value: datetime) -> datetime:
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST_TIME <= moment <= LATEST_TIME:
        raise ValueError(f"must be between {EARLIEST_TIME.isoformat()} and {LATEST_TIME.isoformat()}")
    return moment


Day = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY, description="a calendar day, 2000-01-01 to 2099-12-31")]
Moment = Annotated[datetime, AfterValidator(_aware), Field(description="ISO 8601, 2000 to 2099, UTC if no offset")]
Cursor = Annotated[str, Field(min_length=1, max_length=MAX_CURSOR_CHARS, description="from a previous page")]
