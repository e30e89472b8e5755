"""Bounded query-parameter types. `parse_query` is the one query parser: every date, day count,
limit and cursor is range-checked by its field on the query model before a handler uses it (an
unbounded date reached `date - timedelta` and raised OverflowError, a 500). Limits, day counts and
cursors carry `ge`/`le`/`max_length` on their fields; dates use `Day`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Final

from pydantic import Field

# Cost, alert and incident data never predate AWS or reach past this century; anything outside is
# a typo or a probe, and arithmetic on it (a window of `days` before `end`) stays in range.
EARLIEST_DAY: Final = date(2000, 1, 1)
LATEST_DAY: Final = date(2099, 12, 31)

Day = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY, description="a calendar day, 2000-01-01 to 2099-12-31")]
