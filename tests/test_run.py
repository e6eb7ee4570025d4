"""`exchange run` (what `make run` starts): the engine, demo accounts, demo traffic, restart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from exchange.engine.ports import free_ports

ROOT = Path(__file__).resolve().parents[1]


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_starts_the_engine_trades_and_continues_from_the_same_state(tmp_path: Path) -> None:
    data = tmp_path / "var"
    requests, batches = free_ports(2)
    options = [
        *("--data-dir", str(data)),
        *("--endpoint", f"tcp://127.0.0.1:{requests}"),
        *("--publish", f"tcp://127.0.0.1:{batches}"),
        *("--no-wait", "--orders", "400"),
    ]
    first = run(data, "run", *options)
    assert first.returncode == 0, first.stderr
    assert "400 orders through the engine" in first.stdout
    after_first = json.loads(run(data, "replay", str(data)).stdout)
    assert after_first["instruments"] == 100 and after_first["accounts"] == 10
    assert after_first["session_open"] is True
    assert after_first["trades"] > 0

    second = run(data, "run", *options)
    assert second.returncode == 0, second.stderr
    after_second = json.loads(run(data, "replay", str(data), "--verify").stdout)
    assert after_second["accounts"] == 10  # the demo setup was not applied twice
    assert after_second["last_seq"] >= after_first["last_seq"] + 400  # monotonic, unlike orders
    assert after_second["trades"] > after_first["trades"]
    assert after_second["verified"] is True
