"""Benchmark of the cost analytics on generated data with labelled anomalies (`make bench`).

Prints a markdown table: precision, recall and F1 of anomaly detection against the injected
labels, and the forecast's MAPE and interval coverage on held-back days. Detection settings are
the detector's defaults; nothing here is tuned to these labels.

Matching: a detected anomaly is a true positive when it overlaps the days of a label and its key
is the label's service, account or region (for a service, account or region anomaly). Recall
counts labels with at least one matching detection.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from acso_financial_intelligence.costs.anomaly import DetectorConfig, detect_anomalies
from acso_financial_intelligence.costs.forecast import evaluate_forecast
from acso_financial_intelligence.costs.generator import GeneratedCosts, InjectedAnomaly, generate_costs
from acso_financial_intelligence.costs.models import Anomaly, Dimension
from acso_financial_intelligence.costs.series import daily_totals

DIMENSIONS = (Dimension.SERVICE, Dimension.ACCOUNT, Dimension.REGION)


def _label_key(label: InjectedAnomaly, dimension: Dimension) -> str:
    return {Dimension.SERVICE: label.service, Dimension.ACCOUNT: label.account, Dimension.REGION: label.region}[
        dimension
    ]


def _matches(anomaly: Anomaly, label: InjectedAnomaly) -> bool:
    overlaps = anomaly.start_date <= label.end and anomaly.end_date >= label.start
    return overlaps and anomaly.key == _label_key(label, anomaly.dimension)


def score(data: GeneratedCosts, config: DetectorConfig) -> tuple[int, int, int, int]:
    """(true positive detections, all detections, labels found, all labels) for one dataset."""
    anomalies = detect_anomalies(data.records, dimensions=DIMENSIONS, config=config, with_root_causes=False)
    true_positives = sum(any(_matches(a, label) for label in data.anomalies) for a in anomalies)
    found = sum(any(_matches(a, label) for a in anomalies) for label in data.anomalies)
    return true_positives, len(anomalies), found, len(data.anomalies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="datasets to generate (seeds 1..N)")
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--holdout", type=int, default=28, help="held-back days for the forecast error")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    config = DetectorConfig()
    mape, mape_clean, coverage = [], [], []
    rows = []
    # "subtle" anomalies may add as little as $40/day: some are below the $100 alert threshold on purpose.
    for scenario, min_extra in (("standard", 120.0), ("subtle", 40.0)):
        tp = detected = found = labels = 0
        for seed in range(1, args.seeds + 1):
            data = generate_costs(seed, days=args.days, min_extra_per_day=min_extra)
            a, b, c, d = score(data, config)
            tp, detected, found, labels = tp + a, detected + b, found + c, labels + d
        precision = tp / detected if detected else 0.0
        recall = found / labels if labels else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append((scenario, min_extra, precision, tp, detected, recall, found, labels, f1))
    for seed in range(1, args.seeds + 1):
        data = generate_costs(seed, days=args.days)
        evaluation = evaluate_forecast(daily_totals(data.records), args.holdout)
        mape.append(evaluation.mape_pct)
        coverage.append(evaluation.interval_coverage)
        clean = generate_costs(seed, days=args.days, spikes=0, level_shifts=0, crypto_mining=0)
        mape_clean.append(evaluate_forecast(daily_totals(clean.records), args.holdout).mape_pct)
    elapsed = time.perf_counter() - started

    print(f"## Cost analytics benchmark ({args.seeds} generated datasets x {args.days} days)\n")
    print("| metric | value |")
    print("|---|---|")
    for scenario, min_extra, precision, tp, detected, recall, found, labels, f1 in rows:
        name = f"anomalies {scenario} (>= ${min_extra:g}/day)"
        print(f"| {name}: precision | {precision:.3f} ({tp}/{detected} detections) |")
        print(f"| {name}: recall | {recall:.3f} ({found}/{labels} labelled anomalies) |")
        print(f"| {name}: F1 | {f1:.3f} |")
    print(f"| forecast MAPE, {args.holdout} held-back days (with anomalies) | {statistics.fmean(mape):.2f}% |")
    print(
        f"| forecast MAPE, {args.holdout} held-back days (no anomalies injected) | "
        f"{statistics.fmean(mape_clean):.2f}% |"
    )
    print(f"| 80% interval coverage of held-back days | {statistics.fmean(coverage):.2f} |")
    print(
        f"| detector | z >= {config.z_threshold}, impact >= ${config.min_impact_abs:g} "
        f"{config.combine} >= {config.min_impact_pct:g}% |"
    )
    print(f"| run time | {elapsed:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
