"""Knowledge-base search and the local index's ingestion. No web imports."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from acso_shared.logging import get_logger
from acso_threat_hunter.attack.catalog import AttackCatalog
from acso_threat_hunter.intel.models import FeedFormat

from .documents import attack_documents, intel_feed_documents, runbook_documents
from .models import Document, SearchEngine, SearchQuery, SearchResponse, SearchResult
from .store import DocumentStore

log = get_logger(__name__)


class Searcher(Protocol):
    async def search(self, query: str, limit: int) -> list[SearchResult]: ...


class SearchService:
    """Answers from the Bedrock Knowledge Base when one is configured, else from PostgreSQL."""

    def __init__(self, local: DocumentStore, *, knowledge_base: Searcher | None = None) -> None:
        self._local = local
        self._kb = knowledge_base

    async def search(self, query: SearchQuery) -> SearchResponse:
        """`GET /v1/intel/search?q=`."""
        if self._kb is not None:
            results = await self._kb.search(query.q, query.limit)
            return SearchResponse(query=query.q, engine=SearchEngine.BEDROCK, results=results)
        results = await self._local.search(query.q, query.limit)
        return SearchResponse(query=query.q, engine=SearchEngine.POSTGRES, results=results)

    async def index_reference(self, catalog: AttackCatalog, runbooks: Path) -> int:
        """Index the ATT&CK catalog and the runbooks (at start; unchanged documents are skipped)."""
        docs: list[Document] = [*attack_documents(catalog), *runbook_documents(runbooks)]
        await self._local.upsert(docs)
        return len(docs)

    async def index_feed(self, fmt: FeedFormat, content: bytes, source: str) -> int:
        """Index the prose of an imported feed; a failure is logged, the import itself stands."""
        docs = intel_feed_documents(fmt, content, source)
        try:
            await self._local.upsert(docs)
        except Exception:
            log.exception("intel_documents_index_failed", source=source)
            return 0
        return len(docs)
