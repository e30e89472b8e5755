"""How ACSO statuses and severities map onto ticket states and priorities, both ways.

ServiceNow incident `state` (the out-of-box choice list of the incident table):
    1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled.
    ACSO new -> 1; triaged, contained, eradicated, recovered -> 2 (the work is ongoing);
    closed -> 6 (Resolved: ServiceNow closes it to 7 itself after its auto-close period).
    Back: 1 -> new, 2 -> triaged, 6/7/8 -> closed, 3 On Hold -> nothing (no ACSO equivalent).

ServiceNow `impact` and `urgency` are 1 High, 2 Medium, 3 Low; the instance computes `priority`
from the pair with its default matrix, so each severity picks the pair that yields the intended
priority: critical P1 (1,1), high P2 (1,2), medium P3 (2,2), low P4 (2,3), informational P5 (3,3).

Jira workflows are per project, but every status belongs to one of three fixed status
categories (keys `new`, `indeterminate`, `done`), so ACSO maps to categories and picks the
transition whose target status is in the wanted category: new -> new; triaged..recovered ->
indeterminate; closed -> done. Back: new -> new, indeterminate -> triaged, done -> closed.
Jira priorities use the default scheme: Highest, High, Medium, Low, Lowest.

The ticket side is coarser than ACSO's lifecycle, so an inbound status is applied only through
`inbound_transition`, which never moves an incident backwards except to reopen a closed one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from acso_service_orchestration.itsm.models import IncidentStatus, Severity


class ServiceNowState(StrEnum):
    """ServiceNow incident states; values are what the Table API reads and writes."""

    NEW = "1"
    IN_PROGRESS = "2"
    ON_HOLD = "3"
    RESOLVED = "6"
    CLOSED = "7"
    CANCELED = "8"


class JiraStatusCategory(StrEnum):
    """Jira's fixed status category keys."""

    NEW = "new"
    INDETERMINATE = "indeterminate"
    DONE = "done"


_LIFECYCLE: Final[tuple[IncidentStatus, ...]] = tuple(IncidentStatus)

_TO_SERVICENOW: Final[dict[IncidentStatus, ServiceNowState]] = {
    IncidentStatus.NEW: ServiceNowState.NEW,
    IncidentStatus.TRIAGED: ServiceNowState.IN_PROGRESS,
    IncidentStatus.CONTAINED: ServiceNowState.IN_PROGRESS,
    IncidentStatus.ERADICATED: ServiceNowState.IN_PROGRESS,
    IncidentStatus.RECOVERED: ServiceNowState.IN_PROGRESS,
    IncidentStatus.CLOSED: ServiceNowState.RESOLVED,
}

_FROM_SERVICENOW: Final[dict[ServiceNowState, IncidentStatus | None]] = {
    ServiceNowState.NEW: IncidentStatus.NEW,
    ServiceNowState.IN_PROGRESS: IncidentStatus.TRIAGED,
    ServiceNowState.ON_HOLD: None,
    ServiceNowState.RESOLVED: IncidentStatus.CLOSED,
    ServiceNowState.CLOSED: IncidentStatus.CLOSED,
    ServiceNowState.CANCELED: IncidentStatus.CLOSED,
}

_SERVICENOW_IMPACT_URGENCY: Final[dict[Severity, tuple[int, int]]] = {
    Severity.CRITICAL: (1, 1),
    Severity.HIGH: (1, 2),
    Severity.MEDIUM: (2, 2),
    Severity.LOW: (2, 3),
    Severity.INFORMATIONAL: (3, 3),
}

_TO_JIRA: Final[dict[IncidentStatus, JiraStatusCategory]] = {
    IncidentStatus.NEW: JiraStatusCategory.NEW,
    IncidentStatus.TRIAGED: JiraStatusCategory.INDETERMINATE,
    IncidentStatus.CONTAINED: JiraStatusCategory.INDETERMINATE,
    IncidentStatus.ERADICATED: JiraStatusCategory.INDETERMINATE,
    IncidentStatus.RECOVERED: JiraStatusCategory.INDETERMINATE,
    IncidentStatus.CLOSED: JiraStatusCategory.DONE,
}

_FROM_JIRA: Final[dict[JiraStatusCategory, IncidentStatus]] = {
    JiraStatusCategory.NEW: IncidentStatus.NEW,
    JiraStatusCategory.INDETERMINATE: IncidentStatus.TRIAGED,
    JiraStatusCategory.DONE: IncidentStatus.CLOSED,
}

_JIRA_PRIORITY: Final[dict[Severity, str]] = {
    Severity.CRITICAL: "Highest",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
    Severity.INFORMATIONAL: "Lowest",
}


def to_servicenow_state(status: IncidentStatus) -> ServiceNowState:
    """The ServiceNow incident state that represents an ACSO status."""
    return _TO_SERVICENOW[status]


def from_servicenow_state(state: str) -> IncidentStatus | None:
    """The ACSO status a ServiceNow state means; None for On Hold and for unknown custom states."""
    try:
        return _FROM_SERVICENOW[ServiceNowState(state.strip())]
    except ValueError:
        return None


def servicenow_impact_urgency(severity: Severity) -> tuple[int, int]:
    """The (impact, urgency) pair whose default-matrix priority matches the severity."""
    return _SERVICENOW_IMPACT_URGENCY[severity]


def to_jira_category(status: IncidentStatus) -> JiraStatusCategory:
    """The Jira status category an ACSO status belongs in."""
    return _TO_JIRA[status]


def from_jira_category(category_key: str) -> IncidentStatus | None:
    """The ACSO status a Jira status category means; None for an unknown key."""
    try:
        return _FROM_JIRA[JiraStatusCategory(category_key)]
    except ValueError:
        return None


def jira_priority(severity: Severity) -> str:
    """The default-scheme Jira priority name for a severity."""
    return _JIRA_PRIORITY[severity]


def inbound_transition(current: IncidentStatus, reported: IncidentStatus | None) -> IncidentStatus | None:
    """The status an incident moves to when its ticket reports `reported`, or None to stay.

    Closing on the ticket side closes the incident; reopening a resolved ticket reopens a
    closed incident as triaged; otherwise the ticket only moves the incident forward, because
    its states are coarser than ACSO's (one Jira "In Progress" covers triaged..recovered).
    """
    if reported is None or reported == current:
        return None
    if current is IncidentStatus.CLOSED:
        return IncidentStatus.TRIAGED
    if _LIFECYCLE.index(reported) > _LIFECYCLE.index(current):
        return reported
    return None
