"""Status and severity mapping between ACSO and the ticket systems."""

from __future__ import annotations

import pytest

from acso_service_orchestration.itsm.models import IncidentStatus, Severity
from acso_service_orchestration.itsm.status_map import (
    JiraStatusCategory,
    ServiceNowState,
    from_jira_category,
    from_servicenow_state,
    inbound_transition,
    jira_priority,
    servicenow_impact_urgency,
    to_jira_category,
    to_servicenow_state,
)

pytestmark = pytest.mark.unit

# ServiceNow's default priority lookup: (impact, urgency) -> priority.
SN_PRIORITY = {(1, 1): 1, (1, 2): 2, (1, 3): 3, (2, 1): 2, (2, 2): 3, (2, 3): 4, (3, 1): 3, (3, 2): 4, (3, 3): 5}


@pytest.mark.parametrize(
    ("severity", "priority"),
    [(Severity.CRITICAL, 1), (Severity.HIGH, 2), (Severity.MEDIUM, 3), (Severity.LOW, 4), (Severity.INFORMATIONAL, 5)],
)
def test_each_severity_yields_its_servicenow_priority(severity, priority):
    assert SN_PRIORITY[servicenow_impact_urgency(severity)] == priority


def test_only_a_closed_incident_resolves_the_servicenow_ticket():
    resolved = [s for s in IncidentStatus if to_servicenow_state(s) is ServiceNowState.RESOLVED]
    assert resolved == [IncidentStatus.CLOSED]


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("6", IncidentStatus.CLOSED),
        ("7", IncidentStatus.CLOSED),
        ("8", IncidentStatus.CLOSED),
        ("2", IncidentStatus.TRIAGED),
    ],
)
def test_servicenow_states_map_back(state, status):
    assert from_servicenow_state(state) is status


def test_on_hold_and_custom_servicenow_states_map_to_nothing():
    assert from_servicenow_state("3") is None
    assert from_servicenow_state("42") is None


def test_every_status_round_trips_through_jira_to_a_status_no_later_than_itself():
    order = list(IncidentStatus)
    for status in IncidentStatus:
        back = from_jira_category(to_jira_category(status).value)
        assert back is not None
        assert order.index(back) <= order.index(status)


def test_unknown_jira_category_maps_to_nothing():
    assert from_jira_category("undefined") is None
    assert to_jira_category(IncidentStatus.CLOSED) is JiraStatusCategory.DONE


def test_jira_priorities_follow_the_default_scheme():
    assert [jira_priority(s) for s in reversed(Severity)] == ["Highest", "High", "Medium", "Low", "Lowest"]


def test_a_ticket_lagging_behind_never_moves_the_incident_backwards():
    assert inbound_transition(IncidentStatus.ERADICATED, IncidentStatus.TRIAGED) is None


def test_a_ticket_resolved_closes_the_incident():
    assert inbound_transition(IncidentStatus.CONTAINED, IncidentStatus.CLOSED) is IncidentStatus.CLOSED


def test_a_reopened_ticket_reopens_a_closed_incident_as_triaged():
    assert inbound_transition(IncidentStatus.CLOSED, IncidentStatus.NEW) is IncidentStatus.TRIAGED


def test_an_unmapped_or_equal_ticket_state_changes_nothing():
    assert inbound_transition(IncidentStatus.NEW, None) is None
    assert inbound_transition(IncidentStatus.CLOSED, IncidentStatus.CLOSED) is None
