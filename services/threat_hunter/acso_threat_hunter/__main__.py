"""`python -m acso_threat_hunter`."""

from acso_shared.resources import Agent
from acso_shared.web.serve import serve
from acso_threat_hunter.app import create_app
from acso_threat_hunter.settings import Settings

serve(Agent.THREAT_HUNTER, Settings(), create_app)  # type: ignore[arg-type]
