"""`exchange bench --protocol engine`: the plan straight to a spawned engine, then its replay."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from exchange.loadgen import summary
from tests.loadgen.test_bench import bench

CONTRACT = (*summary.REQUIRED, "cpu_us_per_request")


def engine_bench(out: Path, *options: str) -> dict[str, Any]:
    """The engine under test is this checkout's (not a compiled build found beside it)."""
    return bench(out, "--protocol", "engine", "--engine-python", sys.executable, *options)


def check_exact(result: dict[str, Any]) -> None:
    assert set(CONTRACT) <= set(result)
    assert result["errors"] == {}
    assert 0 < result["orders_answered"] == result["orders_sent"]
    checked = result["outcome"]
    assert checked["events_regenerated_equal"] and checked["mismatched_batches"] == []
    assert checked["snapshot_seq"] > 0  # the engine's live state was snapshotted mid-run...
    assert checked["snapshot_hash_equal"]  # ...and the replay reaches the same state hash
    assert checked["trades"] == checked["trades_in_replies"] > 0
    assert checked["exact"]
    assert set(result["cpu_us_per_request"]) == {"engine", "loadgen"}


def test_an_open_loop_run_from_two_processes_is_exact_and_counts_every_request(
    tmp_path: Path,
) -> None:
    result = engine_bench(tmp_path, "--users", "20", "--rate", "1000", "--seconds", "2",
                          "--processes", "2")  # fmt: skip
    check_exact(result)
    assert result["protocol"] == "engine" and result["mode"] == "open loop"
    assert result["processes"] == 2
    assert result["planned"] == result["orders_sent"]
    assert result["engine_compiled"] is False and result["durability"] == "write"
    # Both processes' histograms merged: every answered request is in one series.
    orders, cancels = result["order_ms"]["count"], result["cancel_ms"]["count"]
    assert orders + cancels == result["orders_answered"]
    assert cancels == result["mix"]["cancel"]
    assert result["market_filled"] == result["market_orders"] == result["rtt_ms"]["count"]
    rtt = result["rtt_ms"]
    assert 0 < rtt["p50"] <= rtt["p99"] <= rtt["p999"] <= rtt["max"]
    assert len(result["client_lag_ms"]) == 2
    assert (tmp_path / "loadgen-engine.png").stat().st_size > 0


def test_as_fast_as_it_goes_with_fsync_is_exact(tmp_path: Path) -> None:
    result = engine_bench(tmp_path, "--users", "10", "--rate", "0", "--window", "100",
                          "--seconds", "1", "--durability", "fsync",
                          "--snapshot-every", "2000")  # fmt: skip
    check_exact(result)
    assert result["mode"] == "closed loop, window 100"
    assert result["durability"] == "fsync"
    assert result["orders_sent"] < result["planned"]  # stopped when the time was up


def test_engine_protocol_needs_an_engine_of_its_own(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "exchange", "bench", "--protocol", "engine", "--out",
         str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--protocol engine needs --spawn" in done.stderr
    assert done.stdout == ""
