"""Plain-text rendering of an incident for ticket descriptions, shared by the adapters."""

from __future__ import annotations

from acso_service_orchestration.itsm.models import IncidentSnapshot


def incident_description(incident: IncidentSnapshot) -> str:
    """The ticket description: the summary, then the facts an ITSM user needs to act."""
    lines = [incident.summary.strip() or incident.title, ""]
    lines.append(f"ACSO incident: {incident.id}")
    lines.append(f"Severity: {incident.severity}")
    lines.append(f"Status: {incident.status}")
    if incident.assignee:
        lines.append(f"ACSO assignee: {incident.assignee}")
    if incident.url:
        lines.append(f"Details: {incident.url}")
    return "\n".join(lines)


def truncate(value: str, limit: int) -> str:
    """Cut `value` to `limit` characters, marking the cut, for fields with a hard length cap."""
    return value if len(value) <= limit else value[: limit - 1] + "…"
