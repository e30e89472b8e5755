"""HTTP routes of the threat hunter: intel, knowledge-base search, rules and hunts (transport only)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acso_shared.errors import Invalid, NotFound, PayloadTooLarge, UnsupportedMediaType
from acso_shared.hunting.pack_store import ImportReport
from acso_shared.web.api import (
    ApiRouter,
    json_response,
    parse_body,
    parse_query,
    read_json,
    validate_body,
    validation_message,
)
from acso_shared.web.auth import principal_of
from acso_threat_hunter.hunting.models import (
    HuntJob,
    HuntRequest,
    HuntUploadQuery,
    RuleCreate,
    RuleImportQuery,
    RuleList,
    RuleListQuery,
    RuleOut,
    RulePatch,
)
from acso_threat_hunter.hunting.service import HuntInput
from acso_threat_hunter.intel.models import (
    CsvColumns,
    FeedFormat,
    ImportJob,
    ImportRequest,
    IndicatorPage,
    MatchRequest,
    MatchResponse,
    TaxiiSource,
)
from acso_threat_hunter.keys import COMPONENTS
from acso_threat_hunter.search.models import SearchQuery, SearchResponse

router = ApiRouter("threat-hunter")

_YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
_UPLOAD_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/gzip", "application/octet-stream"})


class ImportQuery(BaseModel):
    """`POST /v1/intel/imports` query: the import's metadata (the feed itself is the body).

    `csv_columns` is `field=header` pairs separated by commas, e.g. `value=ioc,type=kind`.
    """

    model_config = ConfigDict(extra="forbid")

    source: str
    format: FeedFormat
    default_confidence: int | None = None
    default_valid_days: int | None = None
    indicator_type: str | None = None
    csv_columns: str | None = None
    csv_delimiter: str | None = None
    strict: bool | None = Field(default=None, description="STIX/TAXII: all-or-nothing at the first bad object")


class IndicatorQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=4096)
    limit: int = Field(default=100, ge=1, le=1000)


async def _raw_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as err:
        raise PayloadTooLarge("payload_too_large", f"body exceeds {request.app._client_max_size} bytes") from err


def _csv_columns(text: str) -> dict[str, str]:
    columns: dict[str, str] = {}
    for pair in text.split(","):
        name, sep, header = pair.partition("=")
        if not sep or not name.strip() or not header.strip():
            raise Invalid("invalid_query", f"csv_columns: {pair!r} is not field=header")
        columns[name.strip()] = header.strip()
    return columns


def _import_request(query: ImportQuery, taxii: TaxiiSource | None) -> ImportRequest:
    fields: dict[str, Any] = query.model_dump(exclude_none=True, exclude={"csv_columns"})
    if query.csv_columns is not None:
        fields["csv_columns"] = CsvColumns.model_validate(_csv_columns(query.csv_columns))
    if taxii is not None:
        fields["taxii"] = taxii
    try:
        return ImportRequest.model_validate(fields)
    except ValidationError as err:
        raise Invalid("invalid_query", validation_message(err)) from err


@router.route(
    "POST",
    "/v1/intel/imports",
    summary="Import a STIX 2.1 bundle, MISP event, plain or CSV feed (the body), or pull a TAXII collection",
    query=ImportQuery,
    response=ImportJob,
    status=202,
    errors=(400, 413),
)
async def create_import(request: web.Request) -> web.Response:
    components = request.app[COMPONENTS]
    query = parse_query(request, ImportQuery)
    if query.format is FeedFormat.TAXII:
        taxii = await parse_body(request, TaxiiSource)
        job = await components.intel.submit_import(_import_request(query, taxii))
    else:
        content = await _raw_body(request)
        job = await components.intel.submit_import(_import_request(query, None), content)
        await components.search.index_feed(query.format, content, query.source)
    response = json_response(job, status=202)
    response.headers["Location"] = f"/v1/intel/imports/{job.id}"
    return response


@router.route(
    "GET", "/v1/intel/imports/{id}", summary="Progress and outcome of an import", response=ImportJob, errors=(404,)
)
async def get_import(request: web.Request) -> web.Response:
    import_id = _uuid(request.match_info["id"], "intel_import_not_found")
    return json_response(await request.app[COMPONENTS].intel.get_import(import_id))


@router.route(
    "GET",
    "/v1/intel/indicators",
    summary="Stored indicators for a value (and the ranges holding an address)",
    query=IndicatorQuery,
    response=IndicatorPage,
    errors=(400,),
)
async def find_indicators(request: web.Request) -> web.Response:
    query = parse_query(request, IndicatorQuery)
    return json_response(await request.app[COMPONENTS].intel.find_indicators(query.value, query.limit))


@router.route(
    "POST",
    "/v1/intel/match",
    summary="Match a batch of observables against the intel store; matches come with their context",
    request=MatchRequest,
    response=MatchResponse,
    errors=(400,),
)
async def match(request: web.Request) -> web.Response:
    body = await parse_body(request, MatchRequest)
    return json_response(await request.app[COMPONENTS].intel.match(body))


@router.route(
    "GET",
    "/v1/intel/search",
    summary="Search intel documents, ATT&CK techniques and runbooks (Bedrock Knowledge Base or PostgreSQL)",
    query=SearchQuery,
    response=SearchResponse,
    errors=(400,),
)
async def search(request: web.Request) -> web.Response:
    query = parse_query(request, SearchQuery)
    return json_response(await request.app[COMPONENTS].search.search(query))


@router.route("GET", "/v1/rules", summary="Built-in and user Sigma rules", query=RuleListQuery, response=RuleList)
async def list_rules(request: web.Request) -> web.Response:
    query = parse_query(request, RuleListQuery)
    rules = await request.app[COMPONENTS].rules.rules(source=query.source, enabled=query.enabled, pack=query.pack)
    return json_response(RuleList(items=[r.out() for r in rules], total=len(rules)))


@router.route(
    "POST",
    "/v1/rules",
    summary="Upload a Sigma rule: JSON {yaml, enabled} or the YAML itself (application/yaml); lint findings come back",
    request=RuleCreate,
    response=RuleOut,
    status=201,
    errors=(400, 409, 415),
)
async def create_rule(request: web.Request) -> web.Response:
    if request.content_type in _YAML_TYPES:
        raw = await _raw_body(request)
        try:
            body = RuleCreate(yaml=raw.decode("utf-8"))
        except (UnicodeDecodeError, ValidationError) as err:
            raise Invalid("sigma_invalid", "the rule must be non-empty UTF-8 YAML") from err
    else:
        body = await parse_body(request, RuleCreate)
    principal = principal_of(request)
    rule = await request.app[COMPONENTS].rules.create(
        body.yaml, enabled=body.enabled, created_by=principal.username or principal.subject
    )
    return json_response(rule.out(), status=201)


@router.route(
    "POST",
    "/v1/rules/imports",
    summary="Import a community pack (a SigmaHQ release: zip or tar body); one result per rule file",
    query=RuleImportQuery,
    response=ImportReport,
    status=201,
    errors=(400, 413),
)
async def import_rules(request: web.Request) -> web.Response:
    query = parse_query(request, RuleImportQuery)
    principal = principal_of(request)
    report = await request.app[COMPONENTS].rules.import_pack(
        await _raw_body(request),
        pack=query.pack,
        version=query.version,
        enabled=query.enabled,
        requested_by=principal.username or principal.subject,
    )
    response = json_response(report, status=201)
    response.headers["Location"] = f"/v1/rules/imports/{report.id}"
    return response


@router.route(
    "GET",
    "/v1/rules/imports/{id}",
    summary="The report of a pack import",
    response=ImportReport,
    errors=(404,),
)
async def get_rule_import(request: web.Request) -> web.Response:
    import_id = _uuid(request.match_info["id"], "rule_import_not_found")
    return json_response(await request.app[COMPONENTS].rules.get_import(import_id))


@router.route(
    "PATCH",
    "/v1/rules/{id}",
    summary="Enable or disable a rule",
    request=RulePatch,
    response=RuleOut,
    errors=(400, 404),
)
async def patch_rule(request: web.Request) -> web.Response:
    body = await parse_body(request, RulePatch)
    rule = await request.app[COMPONENTS].rules.set_enabled(request.match_info["id"], body.enabled)
    return json_response(rule.out())


@router.route(
    "POST",
    "/v1/hunts",
    summary="Hunt CloudTrail records in S3, in a time window, not yet hunted (delivery), or uploaded as NDJSON",
    request=HuntRequest,
    response=HuntJob,
    status=202,
    errors=(400, 413, 415),
)
async def create_hunt(request: web.Request) -> web.Response:
    components = request.app[COMPONENTS]
    principal = principal_of(request)
    who = principal.username or principal.subject
    if request.content_type in _UPLOAD_TYPES:
        query = parse_query(request, HuntUploadQuery)
        job = await components.hunts.submit(
            HuntInput(upload=await _raw_body(request)),
            rule_ids=query.rule_ids,
            send_alerts=query.send_alerts,
            requested_by=who,
        )
    else:
        if request.content_type not in ("application/json", ""):
            raise UnsupportedMediaType(
                "unsupported_media_type", f"send JSON or NDJSON (application/x-ndjson), not {request.content_type}"
            )
        body = validate_body(await read_json(request), HuntRequest)
        if body.source.type == "s3":
            source = HuntInput(s3=body.source)
        elif body.source.type == "window":
            source = HuntInput(window=body.source)
        else:
            source = HuntInput(delivery=True)
        job = await components.hunts.submit(
            source, rule_ids=body.rule_ids, send_alerts=body.send_alerts, requested_by=who
        )
    response = json_response(job, status=202)
    response.headers["Location"] = f"/v1/hunts/{job.id}"
    return response


@router.route("GET", "/v1/hunts/{id}", summary="A hunt's status, hits and rule errors", response=HuntJob, errors=(404,))
async def get_hunt(request: web.Request) -> web.Response:
    hunt_id = _uuid(request.match_info["id"], "hunt_not_found")
    return json_response(await request.app[COMPONENTS].hunts.get(hunt_id))


def _uuid(value: str, code: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(code, f"no such resource {value}") from None
