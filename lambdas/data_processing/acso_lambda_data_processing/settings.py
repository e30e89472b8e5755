"""Settings of the data-processing Lambda: the only place it reads its environment."""

from __future__ import annotations

from pydantic import Field

from acso_shared.resources import Agent
from acso_shared.settings import AcsoSettings


class DataProcessingSettings(AcsoSettings):
    """Where hits go (the supervisor's task queue, from the manifest) and how many per message."""

    alerts_per_message: int = Field(default=25, ge=1, le=100, description="Alerts per `alert.ingest` envelope")
    max_alerts_per_object: int = Field(default=1000, ge=1, description="Hits beyond this are counted, not sent")
    max_object_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)

    @property
    def supervisor_queue(self) -> str:
        """The supervisor's task queue name, `acso-{env}-supervisor-tasks`."""
        return self.manifest.task_queues[Agent.SUPERVISOR].name
