"""Typed app keys of the incident-response service."""

from aiohttp import web

from acso_incident_response.approvals import Approvals
from acso_incident_response.executor import Executor
from acso_incident_response.incidents import Incidents
from acso_incident_response.reasoning import IncidentReasoner

INCIDENTS = web.AppKey("incidents", Incidents)
APPROVALS = web.AppKey("approvals", Approvals)
EXECUTOR = web.AppKey("executor", Executor)
REASONER = web.AppKey("reasoner", IncidentReasoner)
