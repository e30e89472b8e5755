"""Cost data in: FOCUS 1.x exports (CSV or Parquet), the Cost and Usage Report CSV, Cost Explorer responses.

Files stream row by row (a bill can have millions of lines) and report progress as rows and bytes
read. A malformed row stops the import with `Invalid("cost_file_invalid", ...)` naming the file, the
line (CSV: the physical line where the record starts, header = line 1; Parquet: the row number)
and the column, because a silently skipped row is a wrong bill.

Tag keys lose the `user:` prefix that AWS puts on user-defined cost-allocation tags, so FOCUS,
CUR and Cost Explorer records agree on `team`, not `user:team`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from acso_shared.errors import Invalid
from acso_shared.web.text import text_problem

from .models import UNSPECIFIED, ChargeCategory, CostRecord, ForecastPoint

ERROR_CODE = "cost_file_invalid"
PROGRESS_EVERY_ROWS = 10_000

FOCUS_REQUIRED = ("ChargePeriodStart", "ServiceName", "BillingCurrency")
FOCUS_COST_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
CUR_REQUIRED = ("lineItem/UsageStartDate", "lineItem/UnblendedCost", "product/ProductName")
_CUR_TAG_PREFIX = "resourceTags/"

# CUR lineItem/LineItemType values, mapped to FOCUS ChargeCategory.
_CUR_LINE_ITEM_TYPES: dict[str, ChargeCategory] = {
    "Usage": ChargeCategory.USAGE,
    "DiscountedUsage": ChargeCategory.USAGE,
    "SavingsPlanCoveredUsage": ChargeCategory.USAGE,
    "Fee": ChargeCategory.PURCHASE,
    "RIFee": ChargeCategory.PURCHASE,
    "SavingsPlanRecurringFee": ChargeCategory.PURCHASE,
    "SavingsPlanUpfrontFee": ChargeCategory.PURCHASE,
    "Tax": ChargeCategory.TAX,
    "Credit": ChargeCategory.CREDIT,
    "Refund": ChargeCategory.CREDIT,
    "BundledDiscount": ChargeCategory.CREDIT,
    "EdpDiscount": ChargeCategory.CREDIT,
    "PrivateRateDiscount": ChargeCategory.CREDIT,
    "SavingsPlanNegation": ChargeCategory.ADJUSTMENT,
}


@dataclass(frozen=True, slots=True)
class ImportProgress:
    rows: int
    bytes_read: int
    total_bytes: int | None

    @property
    def fraction(self) -> float | None:
        return min(self.bytes_read / self.total_bytes, 1.0) if self.total_bytes else None


ProgressCallback = Callable[[ImportProgress], None]
CostColumn = Literal["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"]


class _RowError(ValueError):
    def __init__(self, column: str, problem: str) -> None:
        super().__init__(f"column {column}: {problem}")
        self.column = column


def _storable(row: Mapping[str, Any], header: Sequence[str] | None = None) -> None:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates) naming the column: such a row used
    to fail the whole import at the database write with an internal error and no position."""
    for index, (column, value) in enumerate(row.items(), start=1):
        if isinstance(value, str) and (problem := text_problem(value)):
            at = value.find("\x00") + 1 if "\x00" in value else None
            where = f" (field {index}" + (f", character {at})" if at else ")")
            raise _RowError(str(column), f"{problem}{where}")
    for index, name in enumerate(header or (), start=1):
        if problem := text_problem(name):
            raise _RowError(f"#{index}", f"the header name {problem}")


def _invalid(source: str, where: str, problem: str, **details: Any) -> Invalid:
    return Invalid(ERROR_CODE, f"{source} {where}: {problem}", details={"source": source, **details})


# --- field parsing ---------------------------------------------------------------------------


def _text(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _amount(row: Mapping[str, Any], column: str) -> float:
    raw = row.get(column)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _RowError(column, "is empty")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _RowError(column, f"not a number: {str(raw)[:40]!r}") from None
    if not math.isfinite(value):
        raise _RowError(column, f"not a finite number: {raw!r}")
    return value


def _day(row: Mapping[str, Any], column: str) -> date:
    raw = row.get(column)
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = "" if raw is None else str(raw).strip()
    if not text:
        raise _RowError(column, "is empty")
    try:
        # FOCUS and CUR write ISO 8601 in UTC ("2024-01-01T00:00:00Z", "2024-01-01 00:00:00.000").
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise _RowError(column, f"not an ISO 8601 date-time: {text[:40]!r}") from None


def _tag_key(key: str) -> str:
    return key.removeprefix("user:")


def _focus_tags(raw: Any) -> dict[str, str]:
    """FOCUS Tags: a JSON object in CSV, a map (list of key/value pairs) or JSON string in Parquet."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            raise _RowError("Tags", "not a JSON object") from None
    else:
        parsed = raw
    if isinstance(parsed, list):
        parsed = dict(parsed)
    if not isinstance(parsed, dict):
        raise _RowError("Tags", "not a JSON object")
    return {_tag_key(str(k)): "" if v is None else str(v) for k, v in parsed.items() if v not in (None, "")}


def _or_unspecified(value: str) -> str:
    return value or UNSPECIFIED


# --- row mapping -----------------------------------------------------------------------------


def focus_record(row: Mapping[str, Any], cost_column: CostColumn = "BilledCost") -> CostRecord:
    """One FOCUS 1.x row as a CostRecord (`ValueError` naming the column when a field is malformed)."""
    category_text = _text(row, "ChargeCategory") or ChargeCategory.USAGE.value
    try:
        category = ChargeCategory(category_text)
    except ValueError:
        raise _RowError("ChargeCategory", f"unknown value {category_text[:30]!r}") from None
    service = _text(row, "ServiceName")
    if not service:
        raise _RowError("ServiceName", "is empty")
    currency = _text(row, "BillingCurrency")
    if not currency:
        raise _RowError("BillingCurrency", "is empty")
    return CostRecord(
        usage_date=_day(row, "ChargePeriodStart"),
        amount=_amount(row, cost_column),
        currency=currency,
        service=service,
        account=_or_unspecified(_text(row, "SubAccountId")),
        region=_or_unspecified(_text(row, "RegionId")),
        tags=_focus_tags(row.get("Tags")),
        resource_id=_text(row, "ResourceId") or None,
        # x_UsageType is AWS's FOCUS extension column; SkuMeter is the FOCUS 1.1+ standard one.
        usage_type=_or_unspecified(_text(row, "x_UsageType") or _text(row, "SkuMeter")),
        charge_category=category,
    )


def cur_record(row: Mapping[str, Any]) -> CostRecord:
    """One legacy Cost and Usage Report row as a CostRecord."""
    service = _text(row, "product/ProductName")
    if not service:
        raise _RowError("product/ProductName", "is empty")
    line_type = _text(row, "lineItem/LineItemType") or "Usage"
    tags = {
        _tag_key(column[len(_CUR_TAG_PREFIX) :]): str(value).strip()
        for column, value in row.items()
        if column.startswith(_CUR_TAG_PREFIX) and value not in (None, "")
    }
    return CostRecord(
        usage_date=_day(row, "lineItem/UsageStartDate"),
        amount=_amount(row, "lineItem/UnblendedCost"),
        currency=_text(row, "lineItem/CurrencyCode") or "USD",
        service=service,
        account=_or_unspecified(_text(row, "lineItem/UsageAccountId")),
        region=_or_unspecified(_text(row, "product/region")),
        tags=tags,
        resource_id=_text(row, "lineItem/ResourceId") or None,
        usage_type=_or_unspecified(_text(row, "lineItem/UsageType")),
        charge_category=_CUR_LINE_ITEM_TYPES.get(line_type, ChargeCategory.ADJUSTMENT),
    )


# --- streaming CSV ---------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from the underlying (possibly compressed) file, for progress."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


def _iter_csv(
    path: Path,
    required: Sequence[str],
    mapper: Callable[[Mapping[str, Any]], CostRecord],
    progress: ProgressCallback | None,
    extra_required: Sequence[str] = (),
) -> Iterator[CostRecord]:
    source = path.name
    total = path.stat().st_size
    with path.open("rb") as raw:
        counter = _CountingReader(raw)
        binary: IO[bytes] = io.BufferedReader(counter)
        if path.suffix == ".gz":
            binary = gzip.GzipFile(fileobj=binary)  # type: ignore[assignment]
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        try:
            header = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as err:
            raise _invalid(source, "line 1", f"unreadable header: {err}", line=1) from err
        try:
            _storable({}, header)
        except _RowError as err:
            raise _invalid(source, "line 1", str(err), line=1, column=err.column) from err
        missing = [c for c in (*required, *extra_required) if c not in header]
        if missing:
            raise _invalid(source, "line 1", f"missing required columns {missing}", line=1, columns=missing)
        rows = 0
        line = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError, gzip.BadGzipFile, EOFError) as err:
                raise _invalid(source, f"line {reader.line_num}", f"unreadable: {err}", line=reader.line_num) from err
            # reader.line_num is where the record ends; the record started on the line after the previous one.
            start_line, line = line + 1, reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise _invalid(source, f"line {start_line}", f"expected {len(header)} fields", line=start_line)
            try:
                _storable(row)
                record = mapper(row)
            except _RowError as err:
                raise _invalid(source, f"line {start_line}", str(err), line=start_line, column=err.column) from err
            yield record
            rows += 1
            if progress and rows % PROGRESS_EVERY_ROWS == 0:
                progress(ImportProgress(rows, counter.count, total))
        if progress:
            progress(ImportProgress(rows, counter.count, total))


def iter_focus_csv(
    path: str | Path, *, cost_column: CostColumn = "BilledCost", progress: ProgressCallback | None = None
) -> Iterator[CostRecord]:
    """Stream a FOCUS 1.x CSV export (optionally .csv.gz) as CostRecords."""
    return _iter_csv(Path(path), FOCUS_REQUIRED, lambda row: focus_record(row, cost_column), progress, (cost_column,))


def iter_cur_csv(path: str | Path, *, progress: ProgressCallback | None = None) -> Iterator[CostRecord]:
    """Stream a legacy Cost and Usage Report CSV (optionally .csv.gz) as CostRecords."""
    return _iter_csv(Path(path), CUR_REQUIRED, cur_record, progress)


def iter_focus_parquet(
    path: str | Path, *, cost_column: CostColumn = "BilledCost", progress: ProgressCallback | None = None
) -> Iterator[CostRecord]:
    """Stream a FOCUS 1.x Parquet export row group by row group; errors name the 1-based row number."""
    import pyarrow.parquet as pq  # deferred: pyarrow is heavy and only Parquet imports need it

    path = Path(path)
    source = path.name
    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises ArrowInvalid/OSError subclasses for a bad file
        raise _invalid(source, "file", f"not a readable Parquet file: {err}") from err
    names = parquet.schema_arrow.names
    missing = [c for c in (*FOCUS_REQUIRED, cost_column) if c not in names]
    if missing:
        raise _invalid(source, "schema", f"missing required columns {missing}", columns=missing)
    wanted = [
        c
        for c in (
            *FOCUS_REQUIRED,
            *FOCUS_COST_COLUMNS,
            "SubAccountId",
            "RegionId",
            "Tags",
            "ResourceId",
            "x_UsageType",
            "SkuMeter",
            "ChargeCategory",
        )
        if c in names
    ]
    metadata = parquet.metadata
    sizes = [metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)]
    total = sum(sizes)
    rows = 0
    done_bytes = 0
    for group in range(metadata.num_row_groups):
        table = parquet.read_row_group(group, columns=wanted)
        for row in table.to_pylist():
            rows += 1
            try:
                _storable(row)
                record = focus_record(row, cost_column)
            except _RowError as err:
                raise _invalid(source, f"row {rows}", str(err), row=rows, column=err.column) from err
            yield record
            if progress and rows % PROGRESS_EVERY_ROWS == 0:
                progress(ImportProgress(rows, done_bytes, total))
        done_bytes += sizes[group]
    if progress:
        progress(ImportProgress(rows, done_bytes, total))


def import_cost_file(
    path: str | Path, *, cost_column: CostColumn = "BilledCost", progress: ProgressCallback | None = None
) -> Iterator[CostRecord]:
    """Stream any supported cost file, recognised by extension and (for CSV) by its header."""
    path = Path(path)
    if not path.is_file():
        raise Invalid(ERROR_CODE, f"{path.name}: no such file")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".parquet"]:
        return iter_focus_parquet(path, cost_column=cost_column, progress=progress)
    if ".csv" not in suffixes:
        raise Invalid(ERROR_CODE, f"{path.name}: expected .csv, .csv.gz or .parquet")
    opener = gzip.open if suffixes[-1] == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise _invalid(path.name, "line 1", f"unreadable header: {err}", line=1) from err
    if "lineItem/UsageStartDate" in header:
        return iter_cur_csv(path, progress=progress)
    if "ChargePeriodStart" in header:
        return iter_focus_csv(path, cost_column=cost_column, progress=progress)
    raise _invalid(path.name, "line 1", "neither a FOCUS nor a Cost and Usage Report header", line=1)


def aggregate_daily(records: Iterable[CostRecord], *, keep_resources: bool = False) -> list[CostRecord]:
    """Sum hourly or per-line records into one record per day and slice (resources merged unless kept)."""
    sums: dict[tuple[Any, ...], float] = {}
    templates: dict[tuple[Any, ...], CostRecord] = {}
    for r in records:
        resource = r.resource_id if keep_resources else None
        key = (
            r.usage_date,
            r.currency,
            r.service,
            r.account,
            r.region,
            r.usage_type,
            r.charge_category,
            tuple(sorted(r.tags.items())),
            resource,
        )
        sums[key] = sums.get(key, 0.0) + r.amount
        templates.setdefault(key, r.model_copy(update={"resource_id": resource}))
    return [templates[k].model_copy(update={"amount": round(v, 10)}) for k, v in sums.items()]


# --- Cost Explorer -----------------------------------------------------------------------------

CeGroupBy = Sequence[Mapping[str, str]]
"""The request's GroupBy: [{"Type": "DIMENSION" | "TAG" | "COST_CATEGORY", "Key": ...}], at most two."""

_CE_DIMENSION_FIELDS = {
    "SERVICE": "service",
    "LINKED_ACCOUNT": "account",
    "REGION": "region",
    "USAGE_TYPE": "usage_type",
    "RESOURCE_ID": "resource_id",
}


def parse_cost_and_usage(
    response: Mapping[str, Any], group_by: CeGroupBy | None = None, *, metric: str = "UnblendedCost"
) -> list[CostRecord]:
    """CostRecords from one GetCostAndUsage (or ...WithResources) response page of DAILY granularity.

    `group_by` defaults to the response's GroupDefinitions (the request's GroupBy). Group keys come
    back in that order; a tag group's key is
    `<tag-key>$<value>` (empty value: untagged). Without groups, the period's Total becomes one
    record of service UNSPECIFIED. Dimensions the query did not group by are UNSPECIFIED.
    """
    if group_by is None:
        group_by = response.get("GroupDefinitions") or []
    if len(group_by) > 2:
        raise Invalid("ce_invalid_group_by", "Cost Explorer groups by at most two dimensions or tags")
    records: list[CostRecord] = []
    for index, result in enumerate(response.get("ResultsByTime", [])):
        where = f"ResultsByTime[{index}]"
        try:
            day = date.fromisoformat(result["TimePeriod"]["Start"])
            end = date.fromisoformat(result["TimePeriod"]["End"])
        except (KeyError, TypeError, ValueError) as err:
            raise Invalid("ce_response_invalid", f"{where}: no valid TimePeriod") from err
        if end - day != timedelta(days=1):
            raise Invalid("ce_response_invalid", f"{where}: expected DAILY granularity, got {day} to {end}")
        estimated = bool(result.get("Estimated", False))
        groups = result.get("Groups") or []
        if not groups and not group_by and metric in (result.get("Total") or {}):
            groups = [{"Keys": [], "Metrics": result["Total"]}]
        for group in groups:
            records.append(_ce_group_record(group, group_by, metric, day, estimated, where))
    return records


def _ce_group_record(
    group: Mapping[str, Any], group_by: CeGroupBy, metric: str, day: date, estimated: bool, where: str
) -> CostRecord:
    keys = group.get("Keys") or []
    try:
        value = group["Metrics"][metric]
        amount = float(value["Amount"])
    except (KeyError, TypeError, ValueError) as err:
        raise Invalid("ce_response_invalid", f"{where}: group {keys} has no numeric {metric}") from err
    fields: dict[str, Any] = {"service": UNSPECIFIED, "tags": {}}
    for definition, key in zip(group_by, keys, strict=False):
        kind, name = definition.get("Type"), definition.get("Key", "")
        if kind == "TAG":
            tag, _, tag_value = key.partition("$")
            if tag_value:
                fields["tags"][_tag_key(tag or name)] = tag_value
        elif kind == "DIMENSION" and name in _CE_DIMENSION_FIELDS:
            fields[_CE_DIMENSION_FIELDS[name]] = key
    return CostRecord(usage_date=day, amount=amount, currency=value.get("Unit", "USD"), estimated=estimated, **fields)


def cost_and_usage_response(
    records: Iterable[CostRecord], group_by: CeGroupBy, *, metric: str = "UnblendedCost"
) -> dict[str, Any]:
    """The GetCostAndUsage DAILY response these records would produce: the seeding path for the emulator.

    moto's Cost Explorer returns nothing unless results are queued with
    `POST /moto-api/static/ce/cost-and-usage-results` `{"results": [<response>, ...]}`; this builds
    one such response (the inverse of `parse_cost_and_usage`).
    """
    inverse = {v: k for k, v in _CE_DIMENSION_FIELDS.items()}
    per_day: dict[date, dict[tuple[str, ...], float]] = {}
    unit = "USD"
    for r in records:
        unit = r.currency
        keys = []
        for definition in group_by:
            name = definition.get("Key", "")
            if definition.get("Type") == "TAG":
                keys.append(f"{name}${r.tags.get(name, '')}")
            else:
                field = _CE_DIMENSION_FIELDS.get(name)
                if field is None or inverse.get(field) != name:
                    raise Invalid("ce_invalid_group_by", f"unsupported GroupBy {definition}")
                keys.append(str(getattr(r, field) or ""))
        bucket = per_day.setdefault(r.usage_date, {})
        bucket[tuple(keys)] = bucket.get(tuple(keys), 0.0) + r.amount
    results = []
    for day in sorted(per_day):
        groups = [
            {"Keys": list(keys), "Metrics": {metric: {"Amount": f"{amount:.10f}", "Unit": unit}}}
            for keys, amount in sorted(per_day[day].items())
        ]
        total = sum(per_day[day].values())
        results.append(
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Total": {} if group_by else {metric: {"Amount": f"{total:.10f}", "Unit": unit}},
                "Groups": groups if group_by else [],
                "Estimated": False,
            }
        )
    return {"GroupDefinitions": [dict(d) for d in group_by], "ResultsByTime": results, "DimensionValueAttributes": []}


@dataclass(frozen=True, slots=True)
class CeForecast:
    """A parsed GetCostForecast response: the period total and the per-period points."""

    total: float
    unit: str
    points: list[ForecastPoint]


def parse_cost_forecast(response: Mapping[str, Any]) -> CeForecast:
    """Parse GetCostForecast: Total {Amount, Unit} and ForecastResultsByTime with mean and interval bounds.

    A response without `PredictionIntervalLevel` in the request has no bounds; they default to the mean.
    """
    try:
        total = float(response["Total"]["Amount"])
        unit = str(response["Total"].get("Unit", "USD"))
        points = []
        for item in response.get("ForecastResultsByTime", []):
            mean = float(item["MeanValue"])
            points.append(
                ForecastPoint(
                    date=date.fromisoformat(item["TimePeriod"]["Start"]),
                    mean=mean,
                    lower=float(item.get("PredictionIntervalLowerBound", mean)),
                    upper=float(item.get("PredictionIntervalUpperBound", mean)),
                )
            )
    except (KeyError, TypeError, ValueError) as err:
        raise Invalid("ce_response_invalid", f"GetCostForecast response is malformed: {err}") from err
    return CeForecast(total=total, unit=unit, points=points)
