"""Wire schemas of the threat-intelligence API (imports, indicator look-up, batch matching)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

MAX_MATCH_BATCH = 50_000
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

Confidence = Annotated[int, Field(ge=0, le=100, description="0-100, as STIX 2.1 `confidence`")]


class IndicatorType(StrEnum):
    """The value kinds the matcher stores; an IPv4/IPv6 indicator is an address or a CIDR range."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    DOMAIN = "domain"
    URL = "url"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"


class ObservableType(StrEnum):
    """What a caller may say about an observable; `ip` and `hash` let the value decide the family."""

    IP = "ip"
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    DOMAIN = "domain"
    URL = "url"
    HASH = "hash"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"


class RelatedKind(StrEnum):
    """STIX 2.1 SDO types an indicator's context is made of."""

    THREAT_ACTOR = "threat-actor"
    INTRUSION_SET = "intrusion-set"
    CAMPAIGN = "campaign"
    MALWARE = "malware"
    TOOL = "tool"
    ATTACK_PATTERN = "attack-pattern"


class FeedFormat(StrEnum):
    STIX = "stix"
    MISP = "misp"
    PLAIN = "plain"
    CSV = "csv"
    TAXII = "taxii"


class MatchKind(StrEnum):
    """Why an observable matched: same value, inside a CIDR range, under a `*.` domain, or a URL's host."""

    EXACT = "exact"
    CIDR = "cidr"
    SUBDOMAIN = "subdomain"
    URL_HOST = "url_host"


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class MatchEngine(StrEnum):
    MEMORY = "memory"
    SQL = "sql"


class RelatedObject(BaseModel):
    """A threat actor, malware, attack pattern... an indicator points to, directly or through one hop."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="STIX id, or `<type>--<uuid>` made from a MISP galaxy cluster uuid")
    kind: RelatedKind
    name: str
    external_id: str | None = Field(default=None, description="e.g. the ATT&CK technique id T1566.001")
    relationship: str = Field(description="STIX relationship type that links it, e.g. `indicates`, `uses`")


class CsvColumns(BaseModel):
    """Which CSV header names hold which field; only `value` is required."""

    value: str
    type: str | None = None
    confidence: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    valid_until: str | None = None
    description: str | None = None
    labels: str | None = Field(default=None, description="a column of labels separated by `|` or `;`")


class TaxiiSource(BaseModel):
    """A TAXII 2.1 collection to pull from."""

    collection_url: str = Field(description="…/{api-root}/collections/{id}/")
    added_after: datetime | None = None
    username: str | None = None
    password: SecretStr | None = None
    page_size: int = Field(default=1000, ge=1, le=10_000)


class ImportRequest(BaseModel):
    """`POST /v1/intel/imports`: the metadata; the raw feed travels as the request content (not for TAXII)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="stable feed name; re-imports from one source update its indicators")
    format: FeedFormat
    default_confidence: Confidence = 50
    default_valid_days: int | None = Field(
        default=None, ge=1, le=3650, description="expiry given to indicators whose feed sets none"
    )
    indicator_type: IndicatorType | None = Field(default=None, description="plain/CSV feeds: the type of every line")
    csv_columns: CsvColumns | None = None
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1)
    taxii: TaxiiSource | None = None
    strict: bool = Field(
        default=False,
        description="STIX/TAXII: reject the whole bundle at its first malformed object or pattern (all-or-nothing); "
        "by default such objects are skipped and reported in `warnings`",
    )

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str) -> str:
        if not SOURCE_NAME.match(value):
            raise ValueError("source must be 1-63 chars of a-z 0-9 . _ - starting with a letter or digit")
        return value

    @model_validator(mode="after")
    def _format_options(self) -> ImportRequest:
        if self.format is FeedFormat.CSV and self.csv_columns is None:
            raise ValueError("a CSV import needs csv_columns")
        if self.format is FeedFormat.TAXII and self.taxii is None:
            raise ValueError("a TAXII import needs taxii")
        return self


class ImportCounts(BaseModel):
    parsed: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = Field(default=0, description="objects or lines that carry no matchable indicator")


class ImportFailure(BaseModel):
    code: str
    message: str


class ImportJob(BaseModel):
    """The status resource of one import (`GET /v1/intel/imports/{id}`)."""

    id: UUID
    source: str
    format: FeedFormat
    status: ImportStatus
    submitted_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    raw_object_key: str | None = Field(default=None, description="the raw feed file in the threat-intel bucket")
    total: int | None = Field(default=None, description="indicators to store, once parsed")
    processed: int = 0
    counts: ImportCounts = Field(default_factory=ImportCounts)
    warnings: list[str] = Field(default_factory=list)
    error: ImportFailure | None = None


class Observable(BaseModel):
    """One value seen in an alert; without a type, the value's shape decides."""

    type: ObservableType | None = None
    value: str = Field(min_length=1, max_length=4096)


class MatchRequest(BaseModel):
    """`POST /v1/intel/match`."""

    observables: list[Observable] = Field(min_length=1, max_length=MAX_MATCH_BATCH)


class IndicatorOut(BaseModel):
    """A stored indicator and its context."""

    id: int
    source: str
    external_id: str
    type: IndicatorType
    value: str
    confidence: Confidence
    first_seen: datetime
    last_seen: datetime
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    revoked: bool = False
    active: bool = Field(description="matches now: not revoked, inside valid_from..valid_until")
    labels: list[str] = Field(default_factory=list)
    description: str | None = None
    related: list[RelatedObject] = Field(default_factory=list)
    warninglists: list[str] = Field(
        default_factory=list,
        description="MISP warning lists the value is on (public resolvers, top sites...): a hit alone is no evidence",
    )


class IndicatorPage(BaseModel):
    """`GET /v1/intel/indicators?value=`."""

    items: list[IndicatorOut]


class Match(BaseModel):
    """One observable that hit one indicator, with what triage needs as evidence."""

    observable_index: int = Field(description="position of the observable in the request")
    observable_type: IndicatorType
    observable_value: str = Field(description="canonical form of the observable")
    match_kind: MatchKind
    indicator_id: int
    indicator_type: IndicatorType
    indicator_value: str
    external_id: str = Field(description="the feed's own id: STIX indicator id, MISP attribute uuid, line ref")
    source: str
    confidence: Confidence
    valid_until: datetime | None = None
    labels: list[str] = Field(default_factory=list)
    related: list[RelatedObject] = Field(default_factory=list)
    warninglists: list[str] = Field(
        default_factory=list, description="MISP warning lists the value is on; triage does not score it alone"
    )


class RejectedObservable(BaseModel):
    observable_index: int
    code: str
    message: str


class MatchResponse(BaseModel):
    matches: list[Match]
    observables: int
    matched_observables: int
    rejected: list[RejectedObservable] = Field(default_factory=list)
    engine: MatchEngine
    as_of: datetime
