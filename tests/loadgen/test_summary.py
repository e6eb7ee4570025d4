"""The numbers a run reports: HDR percentiles of known samples, the JSON line, /metrics deltas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exchange.loadgen import scrape, summary
from exchange.loadgen.histograms import Recorder, Series


def test_percentiles_of_known_samples() -> None:
    series = Series()
    for ms in range(1, 1001):  # 1 ms .. 1000 ms
        series.record(ms / 1000)
    got = series.percentiles_ms()
    assert got["count"] == 1000
    assert got["p50"] == pytest.approx(500, rel=0.002)
    assert got["p99"] == pytest.approx(990, rel=0.002)
    assert got["p999"] == pytest.approx(999, rel=0.002)
    assert got["max"] == 1000.0  # exact, not the histogram's bucket edge
    assert Series().percentiles_ms() == {"p50": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0,
                                         "count": 0}  # fmt: skip


def test_one_outlier_shows_in_p999_and_max_only() -> None:
    series = Series()
    for _ in range(9_999):
        series.record(0.002)
    series.record(1.5)
    got = series.percentiles_ms()
    assert got["p50"] == pytest.approx(2, rel=0.002)
    assert got["p99"] == pytest.approx(2, rel=0.002)
    assert got["max"] == 1500.0


def test_per_second_series_follow_the_scheduled_second() -> None:
    recorder = Recorder()
    for second in range(3):
        for _ in range(10):
            recorder.record("market", second + 0.5, 0.001 * (second + 1))
    rows = recorder.time_series("market")
    assert [r["second"] for r in rows] == [0, 1, 2]
    assert [r["p50"] for r in rows] == pytest.approx([1, 2, 3], rel=0.002)
    assert [r["count"] for r in rows] == [10, 10, 10]


def test_the_json_line_has_the_contract_keys_and_the_files_are_written(tmp_path: Path) -> None:
    recorder = Recorder()
    for n in range(100):
        recorder.record("market", n / 50, 0.001 + n / 100_000)
        recorder.record("order", n / 50, 0.001)
    recorder.error("http_503")
    recorder.error("http_503")
    recorder.outcome("cancel_too_late")
    result = summary.build(
        recorder, orders_sent=200, orders_answered=200, elapsed=2.0, market_orders=100,
        extra={"users": 3, "protocol": "rest"},
    )  # fmt: skip
    parsed = json.loads(summary.line(result))
    assert set(summary.REQUIRED) <= set(parsed)
    assert set(parsed["rtt_ms"]) >= {"p50", "p99", "p999", "max"}
    assert parsed["orders_sent"] == 200 and parsed["orders_per_s"] == 100.0
    assert parsed["market_orders"] == 100 and parsed["market_filled"] == 100
    assert parsed["errors"] == {"http_503": 2}
    assert parsed["outcomes"] == {"cancel_too_late": 1}
    assert parsed["users"] == 3
    path = summary.write(tmp_path, "run", result, recorder)
    written = json.loads(path.read_text())
    assert [r["second"] for r in written["per_second"]["market"]] == [0, 1]
    assert path.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


METRICS_BEFORE = """\
# HELP gateway_engine_round_trip_seconds From sending a command to the engine to its durable reply
# TYPE gateway_engine_round_trip_seconds histogram
gateway_engine_round_trip_seconds_bucket{le="0.001"} 10.0
gateway_engine_round_trip_seconds_bucket{le="0.01"} 10.0
gateway_engine_round_trip_seconds_bucket{le="+Inf"} 10.0
gateway_engine_round_trip_seconds_count 10.0
gateway_engine_round_trip_seconds_sum 0.005
# HELP gateway_streams Open WebSocket streams
# TYPE gateway_streams gauge
gateway_streams 0.0
"""
METRICS_AFTER = """\
# HELP gateway_engine_round_trip_seconds From sending a command to the engine to its durable reply
# TYPE gateway_engine_round_trip_seconds histogram
gateway_engine_round_trip_seconds_bucket{le="0.001"} 60.0
gateway_engine_round_trip_seconds_bucket{le="0.01"} 109.0
gateway_engine_round_trip_seconds_bucket{le="+Inf"} 110.0
gateway_engine_round_trip_seconds_count 110.0
gateway_engine_round_trip_seconds_sum 0.305
# HELP gateway_streams Open WebSocket streams
# TYPE gateway_streams gauge
gateway_streams 20.0
"""


def test_the_exchanges_histograms_are_reported_for_this_run_only() -> None:
    report = scrape.difference(scrape.parse(METRICS_BEFORE), scrape.parse(METRICS_AFTER))
    engine = report["gateway_engine_round_trip_seconds"]
    assert engine["count"] == 100
    assert engine["mean_ms"] == pytest.approx(3.0)
    assert engine["p50_le_ms"] == pytest.approx(1.0)
    assert engine["p99_le_ms"] == pytest.approx(10.0)
    assert report["gateway_streams"] == {"before": 0.0, "after": 20.0}


def test_the_workers_scrapes_add_up_to_one_gateway() -> None:
    worker = """# TYPE gateway_engine_round_trip_seconds histogram
gateway_engine_round_trip_seconds_bucket{le="0.001"} %d
gateway_engine_round_trip_seconds_bucket{le="+Inf"} %d
gateway_engine_round_trip_seconds_count %d
gateway_engine_round_trip_seconds_sum %f
# TYPE gateway_view_next_seq gauge
gateway_view_next_seq %d
# TYPE gateway_worker_pid gauge
gateway_worker_pid %d
"""
    one = scrape.parse(worker % (3, 4, 4, 0.004, 100, 11))
    two = scrape.parse(worker % (1, 6, 6, 0.050, 120, 12))
    both = scrape.combined([one, two])
    histogram = both["gateway_engine_round_trip_seconds"]
    assert histogram["count"] == 10 and histogram["buckets"] == {0.001: 4, float("inf"): 10}
    assert abs(histogram["sum"] - 0.054) < 1e-9
    assert both["gateway_view_next_seq"]["value"] == 120  # the furthest, not a sum
    assert both["gateway_workers"]["value"] == 2 and "gateway_worker_pid" not in both
