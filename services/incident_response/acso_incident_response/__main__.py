"""`python -m acso_incident_response`."""

from acso_incident_response.app import create_app
from acso_incident_response.settings import Settings
from acso_shared.resources import Agent
from acso_shared.web.serve import serve

serve(Agent.INCIDENT_RESPONSE, Settings(), create_app)  # type: ignore[arg-type]
