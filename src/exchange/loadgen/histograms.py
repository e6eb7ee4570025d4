"""Latency histograms (HDR): whole-run and per-second percentiles without keeping samples.

HdrHistogram records microseconds with three significant digits in fixed
memory however many samples arrive, so a long run at a high rate costs
nothing extra; one histogram per series for the run and one per second of
scheduled time for the time series. The exact maximum is kept beside it.
Several generator processes each record their own and the parent merges
them (`to_wire`, `merge`): HDR histograms add, so the merged percentiles
are those of every request, not an average of percentiles.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
"""An hour: anything slower is recorded as an hour."""
DIGITS = 3
PERCENTILES = {"p50": 50.0, "p99": 99.0, "p999": 99.9}


def _histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


@dataclass
class Series:
    """One latency series: a histogram and the exact maximum."""

    histogram: HdrHistogram = field(default_factory=_histogram)
    max_us: int = 0

    def record(self, seconds: float) -> None:
        value = min(max(int(seconds * 1_000_000), LOWEST_US), HIGHEST_US)
        self.histogram.record_value(value)
        self.max_us = max(self.max_us, value)

    @property
    def count(self) -> int:
        total: int = self.histogram.get_total_count()
        return total

    def percentiles_ms(self) -> dict[str, float]:
        """p50, p99, p99.9 and max in milliseconds (zeros when empty), and the count."""
        # A percentile is its bucket's highest value, which can lie above the exact maximum.
        out = {
            name: round(min(self.histogram.get_value_at_percentile(q), self.max_us) / 1000, 3)
            for name, q in PERCENTILES.items()
        }
        out["max"] = round(self.max_us / 1000, 3)
        out["count"] = self.count
        return out


@dataclass
class Recorder:
    """Every latency of a run by series name, per second of scheduled time, and errors."""

    series: dict[str, Series] = field(default_factory=dict)
    per_second: dict[str, dict[int, Series]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    """What happened that is no fault (a cancel too late, an IOC left unfilled...)."""

    def record(self, name: str, scheduled_at: float, seconds: float) -> None:
        """`scheduled_at`: seconds from the run's start (picks the per-second bucket)."""
        series = self.series.get(name)
        if series is None:  # not setdefault: a histogram is 190 KB to allocate
            series = self.series[name] = Series()
        series.record(seconds)
        seconds_of = self.per_second.setdefault(name, {})
        second = max(0, int(scheduled_at))
        per_second = seconds_of.get(second)
        if per_second is None:
            per_second = seconds_of[second] = Series()
        per_second.record(seconds)

    def error(self, kind: str) -> None:
        self.errors[kind] += 1

    def outcome(self, kind: str) -> None:
        self.outcomes[kind] += 1

    def percentiles_ms(self, name: str) -> dict[str, float]:
        return self.series.get(name, Series()).percentiles_ms()

    def time_series(self, name: str) -> list[dict[str, float]]:
        """Per second of the run: {second, count, p50, p99, p999, max} in ms."""
        rows = []
        for second, series in sorted(self.per_second.get(name, {}).items()):
            rows.append({"second": second, **series.percentiles_ms()})
        return rows


Wire = dict[str, Any]
"""A Recorder as plain data (HDR's compressed encoding), to cross a process boundary."""


def _series_wire(series: Series) -> tuple[bytes, int]:
    encoded: bytes = series.histogram.encode()
    return encoded, series.max_us


def _series_of(wire: tuple[bytes, int]) -> Series:
    encoded, max_us = wire
    series = Series()
    series.histogram.add(HdrHistogram.decode(encoded))
    series.max_us = max_us
    return series


def to_wire(recorder: Recorder) -> Wire:
    """What one generator process recorded, for the parent to merge (see `merge`)."""
    return {
        "series": {name: _series_wire(s) for name, s in recorder.series.items()},
        "per_second": {
            name: {second: _series_wire(s) for second, s in seconds.items()}
            for name, seconds in recorder.per_second.items()
        },
        "errors": dict(recorder.errors),
        "outcomes": dict(recorder.outcomes),
    }


def _add(into: dict[Any, Series], key: Any, series: Series) -> None:
    mine = into.get(key)
    if mine is None:
        into[key] = series
        return
    mine.histogram.add(series.histogram)
    mine.max_us = max(mine.max_us, series.max_us)


def merge(recorder: Recorder, wire: Wire) -> None:
    """Add another process's recording: counts add up, percentiles are of the union (HDR)."""
    for name, series in wire["series"].items():
        _add(recorder.series, name, _series_of(series))
    for name, seconds in wire["per_second"].items():
        into = recorder.per_second.setdefault(name, {})
        for second, series in seconds.items():
            _add(into, int(second), _series_of(series))
    recorder.errors.update(wire["errors"])
    recorder.outcomes.update(wire["outcomes"])
