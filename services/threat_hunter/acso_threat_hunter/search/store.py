"""Local knowledge-base search: `intel_documents` with a generated tsvector and a GIN index."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from .models import Document, DocumentKind, SearchResult

_UPSERT = """
INSERT INTO intel_documents (id, kind, title, body, source, uri)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title, body = EXCLUDED.body,
    source = EXCLUDED.source, uri = EXCLUDED.uri, updated_at = now()
WHERE (intel_documents.title, intel_documents.body, intel_documents.source, intel_documents.uri)
      IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.body, EXCLUDED.source, EXCLUDED.uri)
"""

_SEARCH = """
WITH q AS (SELECT websearch_to_tsquery('english', $1) AS query)
SELECT d.id, d.kind, d.title, d.source, d.uri, ts_rank_cd(d.tsv, q.query) AS score,
       ts_headline('english', d.body, q.query, 'MaxFragments=2, MinWords=8, MaxWords=30') AS snippet
FROM intel_documents d, q
WHERE d.tsv @@ q.query
ORDER BY score DESC, d.id
LIMIT $2
"""


class DocumentStore:
    """Every SQL statement on `intel_documents`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert(self, documents: Sequence[Document]) -> None:
        """Insert or refresh documents by id (unchanged ones are not rewritten)."""
        if not documents:
            return
        await self._pool.execute(
            _UPSERT,
            [d.id for d in documents],
            [d.kind.value for d in documents],
            [d.title for d in documents],
            [d.body for d in documents],
            [d.source for d in documents],
            [d.uri for d in documents],
        )

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        """Ranked matches of a web-search style query (`"exact phrase"`, `or`, `-word`)."""
        rows = await self._pool.fetch(_SEARCH, query, limit)
        return [
            SearchResult(
                id=r["id"],
                kind=DocumentKind(r["kind"]),
                title=r["title"],
                snippet=r["snippet"],
                score=round(float(r["score"]), 6),
                source=r["source"],
                uri=r["uri"],
            )
            for r in rows
        ]
