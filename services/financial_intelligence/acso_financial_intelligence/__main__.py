"""`python -m acso_financial_intelligence`."""

from acso_financial_intelligence.app import create_app
from acso_financial_intelligence.settings import Settings
from acso_shared.resources import Agent
from acso_shared.web.serve import serve

serve(Agent.FINANCIAL_INTELLIGENCE, Settings(), create_app)  # type: ignore[arg-type]
