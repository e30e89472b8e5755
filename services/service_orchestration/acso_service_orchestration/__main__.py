"""`python -m acso_service_orchestration`."""

from acso_service_orchestration.app import create_app
from acso_service_orchestration.settings import Settings
from acso_shared.resources import Agent
from acso_shared.web.serve import serve

serve(Agent.SERVICE_ORCHESTRATION, Settings(), create_app)  # type: ignore[arg-type]
