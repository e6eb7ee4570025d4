"""`exchange bench --spawn` as a real process: its own engine, gateway (and FIX); one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.test_run import _run_options, _start_run

ROOT = Path(__file__).resolve().parents[2]
CLOSED_TEXT = "exchange bench: opened"


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
    assert set(result["cpu_us_per_request"]) == {"gateway", "engine", "loadgen"}
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


def test_bench_against_a_running_exchange_opens_users_without_the_application_limit(
    tmp_path: Path,
) -> None:
    """`exchange bench` against `make run`: users are filed by the officer, never rate-limited.

    On 56b90ba each application went through the public path at 0.2/s per address, so
    200 users took 17 minutes of 429s with no progress shown.
    """
    data = tmp_path / "var"
    options, port, _, _ = _run_options(data)
    running = _start_run([*options, "--orders", "0"], "ready", subprocess.DEVNULL)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "exchange", "bench", "--gateway", f"http://127.0.0.1:{port}",
             "--data-dir", str(data), "--users", "30", "--rate", "50", "--seconds", "2",
             "--out", str(tmp_path / "out"), "--no-progress", "--no-streams"],
            check=False, cwd=ROOT, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout)["users"] == 30
        assert f"{CLOSED_TEXT} 32 of 32" in done.stderr  # progress while opening (with 2 makers)
        admin = next(
            c
            for c in json.loads((data / "demo-credentials.json").read_text())
            if "admin" in c["scopes"]
        )
        token = httpx.post(
            f"http://127.0.0.1:{port}/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": admin["clientId"],
                  "client_secret": admin["clientSecret"]},
        ).json()["access_token"]  # fmt: skip
        metrics = httpx.get(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
        ).text
        refused = [
            line for line in metrics.splitlines()
            if line.startswith("gateway_requests_total") and 'route="submit_application"' in line
            and 'status="429"' in line
        ]  # fmt: skip
        assert refused == [], refused
        assert 'route="submit_application",status="201"' in metrics
    finally:
        running.send_signal(2)  # Ctrl-C
        running.wait(timeout=60)


def test_rest_run_from_two_processes_merges_their_histograms(tmp_path: Path) -> None:
    result = bench(tmp_path, "--users", "20", "--rate", "200", "--seconds", "3",
                   "--processes", "2")  # fmt: skip
    check_common(result, 20)
    assert result["processes"] == 2
    assert result["planned"] == result["orders_sent"]
    orders, cancels = result["order_ms"]["count"], result["cancel_ms"]["count"]
    not_resting = result["outcomes"].get("cancel_of_order_not_resting", 0)
    assert orders + cancels + not_resting == result["orders_answered"]
    assert result["market_filled"] == result["rtt_ms"]["count"] == result["mix"]["market"]
    assert len(result["client_lag_ms_per_process"]) == 2
    assert set(result["cpu_us_per_request"]) == {"gateway", "engine", "loadgen"}
