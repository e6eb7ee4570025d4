"""The exchange's own latency by stage, from its Prometheus /metrics before and after the run.

The generator sees only the outside of the round trip; the gateway's
histograms (HTTP request time per route, the engine round trip as the
gateway sees it, and whatever per-stage histograms the exchange exposes)
split it. The difference of two scrapes is this run's share: count, mean,
and p50/p99 as the upper bound of the bucket where they fall.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Scrape = dict[str, dict[str, Any]]
"""Histogram name + labels -> {"buckets": {le: count}, "count", "sum"}; gauges under "value"."""


def parse(text: str) -> Scrape:
    out: Scrape = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            key = family.name + "".join(f",{k}={v}" for k, v in sorted(labels.items()))
            if family.type == "histogram":
                entry = out[key]
                if sample.name.endswith("_bucket"):
                    entry.setdefault("buckets", {})[float(sample.labels["le"])] = sample.value
                elif sample.name.endswith("_count"):
                    entry["count"] = sample.value
                elif sample.name.endswith("_sum"):
                    entry["sum"] = sample.value
            elif family.type in ("gauge", "counter") and not sample.name.endswith("_created"):
                out[key + (",total" if sample.name.endswith("_total") else "")]["value"] = (
                    sample.value
                )
    return dict(out)


WORKER = "gateway_worker_pid"
_HIGHEST = ("gateway_view_next_seq",)
"""Gauges whose workers' values are not added up: the furthest one is the gateway's."""


def combined(scrapes: list[Scrape]) -> Scrape:
    """The workers' scrapes as one gateway's: histograms and counters added up."""
    out: Scrape = {}
    for one in scrapes:
        for key, entry in one.items():
            if key == WORKER:
                continue
            into = out.setdefault(key, {})
            if "buckets" in entry:
                buckets = into.setdefault("buckets", {})
                for bound, count in entry["buckets"].items():
                    buckets[bound] = buckets.get(bound, 0.0) + count
            for field in ("count", "sum", "value"):
                if field in entry:
                    if key.startswith(_HIGHEST):
                        into[field] = max(into.get(field, entry[field]), entry[field])
                    else:
                        into[field] = into.get(field, 0.0) + entry[field]
    if scrapes:
        out["gateway_workers"] = {"value": float(len(scrapes))}
    return out


async def scrape(
    base: str, headers: dict[str, str] | None = None, *, tries: int = 60, settle: int = 12
) -> Scrape:
    """GET {base}/metrics (it needs an admin token in `headers`); empty when it cannot be read.

    A gateway with `--workers` answers /metrics from the worker the connection reaches, each
    for itself (`gateway_worker_pid`): so fresh connections until no new worker has shown up
    for `settle` tries in a row, and the workers' scrapes added up (`combined`)."""
    by_worker: dict[float, Scrape] = {}
    quiet = 0
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10),
            connector=aiohttp.TCPConnector(force_close=True),
        ) as http:
            for _ in range(tries):
                async with http.get(f"{base}/metrics", headers=headers) as response:
                    if response.status != 200:
                        break
                    one = parse(await response.text())
                worker = one.get(WORKER, {}).get("value", 0.0)
                if worker in by_worker:
                    quiet += 1
                    if quiet >= settle:
                        break
                    continue
                by_worker[worker] = one
                quiet = 0
                if not worker:
                    break  # not a gateway of workers: one answer is all of it
    except (aiohttp.ClientError, TimeoutError, OSError):
        pass
    return combined(list(by_worker.values()))


def _quantile(buckets: dict[float, float], count: float, q: float) -> float | None:
    """The upper bound of the (cumulative) bucket holding quantile q, in seconds."""
    wanted = q * count
    for bound in sorted(buckets):
        if buckets[bound] >= wanted:
            return bound
    return None


def difference(before: Scrape, after: Scrape) -> dict[str, Any]:
    """Per histogram: this run's count, mean and p50/p99 bucket bounds (ms); changed values."""
    report: dict[str, Any] = {}
    for key, entry in sorted(after.items()):
        old = before.get(key, {})
        if "buckets" in entry:
            count = entry.get("count", 0.0) - old.get("count", 0.0)
            if count <= 0:
                continue
            total = entry.get("sum", 0.0) - old.get("sum", 0.0)
            buckets = {
                bound: value - old.get("buckets", {}).get(bound, 0.0)
                for bound, value in entry["buckets"].items()
            }
            row: dict[str, Any] = {"count": int(count), "mean_ms": round(total / count * 1000, 3)}
            for name, q in (("p50", 0.5), ("p99", 0.99)):
                bound = _quantile(buckets, count, q)
                row[f"{name}_le_ms"] = None if bound in (None, float("inf")) else bound * 1000
            report[key] = row
        elif "value" in entry and entry["value"] != old.get("value"):
            report[key] = {"before": old.get("value"), "after": entry["value"]}
    return report
