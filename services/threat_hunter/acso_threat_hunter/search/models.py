"""Wire schemas of `GET /v1/intel/search`: one result shape whichever engine answers."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class DocumentKind(StrEnum):
    ATTACK = "attack"
    RUNBOOK = "runbook"
    INTEL = "intel"


class SearchEngine(StrEnum):
    POSTGRES = "postgres"
    BEDROCK = "bedrock"


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=1000, description="Words to search for (web-search syntax locally)")
    limit: int = Field(default=10, ge=1, le=50)


class SearchResult(BaseModel):
    id: str = Field(description="Document id, or the source URI for Knowledge Base results")
    kind: DocumentKind | None = Field(default=None, description="Unknown for Knowledge Base chunks without metadata")
    title: str
    snippet: str = Field(description="The passage that matched")
    score: float
    source: str
    uri: str | None = None


class SearchResponse(BaseModel):
    query: str
    engine: SearchEngine
    results: list[SearchResult]


class Document(BaseModel):
    """A searchable document of the local store."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: DocumentKind
    title: str = Field(min_length=1)
    body: str
    source: str
    uri: str | None = None
