"""Typed app keys of the supervisor."""

from aiohttp import web

from acso_supervisor.agents import AgentDirectory
from acso_supervisor.dlq import DlqConsole

DIRECTORY = web.AppKey("directory", AgentDirectory)
DLQ = web.AppKey("dlq", DlqConsole)
