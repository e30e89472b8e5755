"""Typed app keys of the financial-intelligence service."""

from aiohttp import web

from acso_financial_intelligence.imports import ImportService
from acso_financial_intelligence.service import FinanceService

FINANCE = web.AppKey("finance", FinanceService)
IMPORTS = web.AppKey("cost_imports", ImportService)
