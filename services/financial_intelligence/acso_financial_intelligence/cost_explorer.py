"""Cost Explorer: daily cost and usage by service, account, region and tag, and the cost forecast.

Cost Explorer groups by at most two dimensions per call, so one call cannot return the joint
service x account x region breakdown. We ask in a fixed order:

1. GroupBy LINKED_ACCOUNT: which accounts have spend in the period;
2. per account (sorted), Filter LINKED_ACCOUNT = that account, GroupBy SERVICE, REGION: together
   these partition the spend exactly by service, account and region (grouping `detail`);
3. per cost-allocation tag key (in settings order), GroupBy TAG, SERVICE (grouping `tag:<key>`),
   used for tag coverage only, because it partitions the same spend a second time.

Each call is paginated by NextPageToken. `seed_responses` builds the responses of exactly this
sequence from cost records: the emulator's seeding path (see the README).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from acso_financial_intelligence.costs.importers import (
    CeForecast,
    aggregate_daily,
    cost_and_usage_response,
    parse_cost_and_usage,
    parse_cost_forecast,
)
from acso_financial_intelligence.costs.models import CostRecord
from acso_shared.aws.clients import AwsClientFactory, error_code, translate_aws_error
from acso_shared.logging import get_logger

log = get_logger("acso.finance.ce")

_ACCOUNTS = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}]
_DETAIL = [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "REGION"}]


def _tag_group(tag_key: str) -> list[dict[str, str]]:
    return [{"Type": "TAG", "Key": tag_key}, {"Type": "DIMENSION", "Key": "SERVICE"}]


def forecast_metric(metric: str) -> str:
    """GetCostForecast names metrics in UPPER_SNAKE (UnblendedCost -> UNBLENDED_COST)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", metric).upper()


@dataclass(frozen=True)
class FetchedCosts:
    """One refresh: the detail partition and one partition per tag key, all daily."""

    detail: list[CostRecord]
    by_tag: dict[str, list[CostRecord]]
    calls: int


@dataclass(frozen=True)
class ForecastAttempt:
    forecast: CeForecast | None
    fallback_reason: str | None


class CostExplorer:
    """Reads cost data through the shared aiobotocore `ce` client."""

    def __init__(self, clients: AwsClientFactory, *, metric: str, tag_keys: Sequence[str]) -> None:
        self._clients = clients
        self._metric = metric
        self._tag_keys = tuple(tag_keys)

    async def _pages(
        self, start: date, end: date, group_by: list[dict[str, str]], filter_: dict[str, Any] | None = None
    ) -> tuple[list[CostRecord], int]:
        ce = await self._clients.client("ce")
        request: dict[str, Any] = {
            "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
            "Granularity": "DAILY",
            "Metrics": [self._metric],
            "GroupBy": group_by,
        }
        if filter_ is not None:
            request["Filter"] = filter_
        records: list[CostRecord] = []
        calls = 0
        while True:
            try:
                response = await ce.get_cost_and_usage(**request)
            except (ClientError, BotoCoreError) as err:
                raise translate_aws_error(err, "ce:GetCostAndUsage") from err
            calls += 1
            records.extend(parse_cost_and_usage(response, group_by, metric=self._metric))
            token = response.get("NextPageToken")
            if not token:
                return records, calls
            request["NextPageToken"] = token

    async def fetch(self, start: date, end: date) -> FetchedCosts:
        """Daily spend in [start, end) (end exclusive, as in Cost Explorer's TimePeriod)."""
        account_rows, calls = await self._pages(start, end, _ACCOUNTS)
        accounts = sorted({r.account for r in account_rows})
        detail: list[CostRecord] = []
        for account in accounts:
            rows, n = await self._pages(
                start, end, _DETAIL, {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account]}}
            )
            calls += n
            detail.extend(r.model_copy(update={"account": account}) for r in rows)
        by_tag: dict[str, list[CostRecord]] = {}
        for tag_key in self._tag_keys:
            rows, n = await self._pages(start, end, _tag_group(tag_key))
            calls += n
            by_tag[tag_key] = aggregate_daily(rows)
        return FetchedCosts(detail=aggregate_daily(detail), by_tag=by_tag, calls=calls)

    async def forecast(self, start: date, end: date, confidence: float) -> ForecastAttempt:
        """GetCostForecast for [start, end); None with the reason when Cost Explorer cannot forecast.

        The emulator has no forecast API and a young account has too little history: both are
        expected, so the caller falls back to the local forecast and records why.
        """
        ce = await self._clients.client("ce")
        try:
            response = await ce.get_cost_forecast(
                TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
                Metric=forecast_metric(self._metric),
                Granularity="DAILY",
                PredictionIntervalLevel=round(confidence * 100),
            )
        except ClientError as err:
            reason = f"ce:GetCostForecast failed: {error_code(err) or 'error'}"
            log.info("ce_forecast_unavailable", reason=reason)
            return ForecastAttempt(None, reason)
        except BotoCoreError as err:
            return ForecastAttempt(None, f"ce:GetCostForecast failed: {type(err).__name__}")
        return ForecastAttempt(parse_cost_forecast(response), None)


def seed_responses(
    records: Sequence[CostRecord], tag_keys: Sequence[str], *, metric: str = "UnblendedCost"
) -> list[dict[str, Any]]:
    """The GetCostAndUsage responses `CostExplorer.fetch` receives for these records, in call order.

    Post them to the emulator (`POST {endpoint}/moto-api/static/ce/cost-and-usage-results` with
    `{"results": [...]}`) before a refresh: moto hands queued results out one per distinct request.
    """
    accounts = sorted({r.account for r in records})
    responses = [cost_and_usage_response(records, _ACCOUNTS, metric=metric)]
    for account in accounts:
        scoped = [r for r in records if r.account == account]
        responses.append(cost_and_usage_response(scoped, _DETAIL, metric=metric))
    responses += [cost_and_usage_response(records, _tag_group(key), metric=metric) for key in tag_keys]
    return responses


def default_period(today: date, lookback_days: int) -> tuple[date, date]:
    """The refresh window: `lookback_days` up to and including yesterday (today is still accruing)."""
    return today - timedelta(days=lookback_days), today
