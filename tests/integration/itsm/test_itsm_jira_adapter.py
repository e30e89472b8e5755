"""Jira Cloud adapter against the fake REST v3 API over real HTTP."""

from __future__ import annotations

import pytest

from acso_service_orchestration.itsm import adf
from acso_service_orchestration.itsm.models import IncidentStatus, Severity
from tests.integration.itsm.itsm_support import incident

pytestmark = pytest.mark.integration


async def test_create_opens_a_labelled_issue_with_an_adf_description(jira, jira_adapter):
    ref = await jira_adapter.create(incident(severity=Severity.CRITICAL))

    issue = jira.issue(ref.external_key)
    assert ref.external_id == issue["id"]
    assert ref.url == f"{jira.base_url}/browse/{ref.external_key}"
    assert issue["fields"]["labels"] == ["acso", "acso-INC-2026-0001"]
    assert issue["fields"]["priority"] == {"name": "Highest"}
    assert issue["fields"]["description"]["type"] == "doc"
    assert "Credential exfiltration" in adf.to_plain_text(issue["fields"]["description"])


async def test_create_retried_finds_the_issue_by_label(jira, jira_adapter):
    first = await jira_adapter.create(incident())

    second = await jira_adapter.create(incident())

    assert second == first
    assert len(jira.issues) == 1


async def test_create_of_a_triaged_incident_moves_the_issue_in_progress(jira, jira_adapter):
    ref = await jira_adapter.create(incident(status=IncidentStatus.TRIAGED))

    assert jira.issue(ref.external_key)["fields"]["status"]["name"] == "In Progress"


async def test_update_edits_priority_and_transitions_by_status_category(jira, jira_adapter):
    ref = await jira_adapter.create(incident())

    await jira_adapter.update(ref, incident(status=IncidentStatus.CONTAINED, severity=Severity.LOW))

    fields = jira.issue(ref.external_key)["fields"]
    assert fields["priority"] == {"name": "Low"}
    assert fields["status"]["statusCategory"]["key"] == "indeterminate"


async def test_update_without_a_status_change_makes_no_transition(jira, jira_adapter):
    ref = await jira_adapter.create(incident(status=IncidentStatus.TRIAGED))
    jira.requests.clear()

    await jira_adapter.update(ref, incident(status=IncidentStatus.ERADICATED))

    assert ("POST", f"/rest/api/3/issue/{ref.external_key}/transitions") not in jira.requests


async def test_comment_posts_an_adf_body(jira, jira_adapter):
    ref = await jira_adapter.create(incident())

    await jira_adapter.comment(ref, "Host isolated.\n\nSnapshot snap-0123 taken.")

    [comment] = jira.comments[ref.external_key]
    assert [block["type"] for block in comment["body"]["content"]] == ["paragraph", "paragraph"]
    assert adf.to_plain_text(comment["body"]) == "Host isolated.\nSnapshot snap-0123 taken."


async def test_resolve_comments_and_moves_the_issue_to_done(jira, jira_adapter):
    ref = await jira_adapter.create(incident())

    await jira_adapter.resolve(ref, incident(status=IncidentStatus.CLOSED, summary="Keys rotated."))

    assert jira.issue(ref.external_key)["fields"]["status"]["name"] == "Done"
    [comment] = jira.comments[ref.external_key]
    assert "Keys rotated." in adf.to_plain_text(comment["body"])


async def test_resolving_an_issue_already_done_changes_nothing(jira, jira_adapter):
    ref = await jira_adapter.create(incident())
    await jira_adapter.resolve(ref, incident(status=IncidentStatus.CLOSED))
    jira.requests.clear()

    await jira_adapter.resolve(ref, incident(status=IncidentStatus.CLOSED))

    assert [m for m, _ in jira.requests] == ["GET"]
    assert len(jira.comments[ref.external_key]) == 1
