"""Typed application state of the threat-hunter app."""

from __future__ import annotations

from aiohttp import web

from acso_threat_hunter.components import Components

COMPONENTS = web.AppKey("acso_threat_hunter_components", Components)
