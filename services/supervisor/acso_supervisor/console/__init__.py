"""The web console for responders, operators and executives, served by the supervisor under `/`."""

from acso_supervisor.console.routes import attach_console
from acso_supervisor.console.routes import router as console_router

__all__ = ["attach_console", "console_router"]
