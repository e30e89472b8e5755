"""SLA timers per severity: time to triage and time to contain, measured from the incident's creation."""

from __future__ import annotations

from datetime import datetime, timedelta

from acso_incident_response.models import Sla, SlaTimer
from acso_incident_response.settings import Settings


def timer(target_s: int | None, started: datetime, completed: datetime | None, now: datetime) -> SlaTimer:
    """One clock: `met` or `breached` once completed, `running` or `breached` while open."""
    end = completed or now
    elapsed = max((end - started).total_seconds(), 0.0)
    if target_s is None:
        return SlaTimer(target_s=None, due_at=None, completed_at=completed, elapsed_s=elapsed, state="none")
    due = started + timedelta(seconds=target_s)
    state = "breached" if elapsed > target_s else "met" if completed is not None else "running"
    return SlaTimer(target_s=target_s, due_at=due, completed_at=completed, elapsed_s=elapsed, state=state)


def sla_of(
    settings: Settings,
    severity: str,
    created_at: datetime,
    triaged_at: datetime | None,
    contained_at: datetime | None,
    now: datetime,
    *,
    benign: bool = False,
) -> Sla:
    """The incident's clocks; a benign verdict needs no containment, so it has no containment clock."""
    contain_target = None if benign else settings.sla_seconds("contain", severity)
    return Sla(
        time_to_triage=timer(settings.sla_seconds("triage", severity), created_at, triaged_at, now),
        time_to_contain=timer(contain_target, created_at, contained_at, now),
    )
