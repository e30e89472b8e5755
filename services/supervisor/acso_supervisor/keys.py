"""Typed app keys of the supervisor."""

from aiohttp import web

from acso_supervisor.agents import AgentDirectory
from acso_supervisor.dlq import DlqConsole
from acso_supervisor.ingest import AlertIngestor
from acso_supervisor.stream import EventHub
from acso_supervisor.workflows import WorkflowEngine

DIRECTORY = web.AppKey("directory", AgentDirectory)
DLQ = web.AppKey("dlq", DlqConsole)
INGESTOR = web.AppKey("ingestor", AlertIngestor)
ENGINE = web.AppKey("engine", WorkflowEngine)
HUB = web.AppKey("hub", EventHub)
