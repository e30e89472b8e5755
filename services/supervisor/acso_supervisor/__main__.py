"""`python -m acso_supervisor`."""

from acso_shared.resources import Agent
from acso_shared.web.serve import serve
from acso_supervisor.app import create_app
from acso_supervisor.settings import Settings

serve(Agent.SUPERVISOR, Settings(), create_app)  # type: ignore[arg-type]
