"""Knowledge-base search through a Bedrock Knowledge Base (`bedrock-agent-runtime:Retrieve`)."""

from __future__ import annotations

from typing import Any, Protocol

from acso_shared.aws.clients import translate_aws_error

from .models import DocumentKind, SearchResult

_KINDS = {k.value for k in DocumentKind}


class ClientSource(Protocol):
    async def client(self, service: str) -> Any: ...


def retrieve_request(knowledge_base_id: str, query: str, limit: int) -> dict[str, Any]:
    """The Retrieve parameters for one query."""
    return {
        "knowledgeBaseId": knowledge_base_id,
        "retrievalQuery": {"text": query},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": limit}},
    }


def _location_uri(location: dict[str, Any]) -> str | None:
    for key, field in (
        ("s3Location", "uri"),
        ("webLocation", "url"),
        ("confluenceLocation", "url"),
        ("sharePointLocation", "url"),
        ("salesforceLocation", "url"),
        ("customDocumentLocation", "id"),
    ):
        value = (location.get(key) or {}).get(field)
        if isinstance(value, str) and value:
            return value
    return None


def results_from_response(response: dict[str, Any]) -> list[SearchResult]:
    """Map Retrieve's `retrievalResults` to the local result shape.

    The ingestion metadata (`metadata`) may carry `id`, `kind`, `title` and `source` set when the
    documents were synced to the Knowledge Base; without it the location names the document.
    """
    results: list[SearchResult] = []
    for n, item in enumerate(response.get("retrievalResults", [])):
        text = (item.get("content") or {}).get("text") or ""
        metadata = item.get("metadata") or {}
        uri = _location_uri(item.get("location") or {})
        kind = metadata.get("kind")
        title = metadata.get("title") or (uri.rsplit("/", 1)[-1] if uri else f"result {n + 1}")
        results.append(
            SearchResult(
                id=str(metadata.get("id") or uri or f"kb-result-{n + 1}"),
                kind=DocumentKind(kind) if kind in _KINDS else None,
                title=str(title),
                snippet=text[:1000],
                score=float(item.get("score") or 0.0),
                source=str(metadata.get("source") or "bedrock-knowledge-base"),
                uri=uri,
            )
        )
    return results


class BedrockKnowledgeBase:
    """Queries one Knowledge Base through a shared aiobotocore client."""

    def __init__(self, clients: ClientSource, knowledge_base_id: str) -> None:
        self._clients = clients
        self._kb = knowledge_base_id

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        """The Knowledge Base's best chunks for the query."""
        client = await self._clients.client("bedrock-agent-runtime")
        try:
            response = await client.retrieve(**retrieve_request(self._kb, query, limit))
        except Exception as err:
            raise translate_aws_error(err, "bedrock-agent-runtime:Retrieve") from err
        return results_from_response(response)
