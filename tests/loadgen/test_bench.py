"""`exchange bench --spawn` as a real process: its own engine, gateway (and FIX); one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def bench(out: Path, *options: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "exchange", "bench", "--spawn", "--out", str(out), "--no-progress",
         *options],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # one JSON line, nothing else on stdout
    result: dict[str, Any] = json.loads(lines[0])
    return result


def check_common(result: dict[str, Any], users: int) -> None:
    assert result["users"] == users
    assert result["orders_sent"] > 0
    assert result["orders_answered"] == result["orders_sent"]
    assert result["orders_per_s"] > 0
    assert result["market_orders"] > 0
    assert result["market_filled"] == result["market_orders"]  # the makers' liquidity suffices
    assert result["errors"] == {}
    rtt = result["rtt_ms"]
    assert 0 < rtt["p50"] <= rtt["p99"] <= rtt["p999"] <= rtt["max"]
    assert result["streams_connected"] == users and result["streams_dropped"] == 0
    assert result["users_with_fills"] == users  # every user got fills on its own stream
    assert result["fills_received_on_streams"] >= result["market_orders"]


def test_rest_run_with_users_opened_through_the_api(tmp_path: Path) -> None:
    result = bench(tmp_path, "--users", "20", "--rate", "200", "--seconds", "3",
                   "--provision", "api")  # fmt: skip
    check_common(result, 20)
    assert result["protocol"] == "rest"
    assert result["planned"] == result["orders_sent"]
    assert result["mix"]["cancel"] > 0 and result["mix"]["passive"] > 0
    metrics = result["exchange_metrics"]
    assert metrics["gateway_engine_round_trip_seconds"]["count"] > 0
    # The engine's own stages, as it reports them in every reply.
    for stage in ("queue", "match", "replicate", "journal"):
        assert metrics[f"engine_stage_seconds,stage={stage}"]["count"] >= result["orders_sent"]
    assert result["memory"]["gateway_bytes_per_stream"] != 0
    assert set(result["cpu_us_per_request"]) == {"gateway", "engine"}
    assert all(us > 0 for us in result["cpu_us_per_request"].values())
    written = json.loads((tmp_path / "loadgen-rest.json").read_text())
    assert written["per_second"]["market"]
    assert (tmp_path / "loadgen-rest.png").stat().st_size > 0


def test_fix_run(tmp_path: Path) -> None:
    result = bench(tmp_path, "--protocol", "fix", "--users", "5", "--rate", "100",
                   "--seconds", "2")  # fmt: skip
    check_common(result, 5)
    assert result["protocol"] == "fix"
    assert result["fix_users_with_fills"] == 5
    assert result["fix_fills_received"] >= result["market_orders"]
    assert (tmp_path / "loadgen-fix.png").exists()
