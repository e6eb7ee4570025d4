"""SIGKILL a journaled engine at random moments; every acknowledged batch survives."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from exchange.core import state_hash
from exchange.engine import rebuild

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_never_loses_an_acknowledged_batch(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"crash test seed {seed}")
    root = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    acked = 0
    for cycle in range(12):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.crash_child", str(root), str(cycle)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        assert child.stdout is not None
        first = child.stdout.readline()  # wait until it is up and has acknowledged something
        assert first.startswith(b"ack "), first
        time.sleep(rng.uniform(0.0, 0.4))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        lines = [first, *out.splitlines()]
        acks = [int(line.split()[1]) for line in lines if line.startswith(b"ack ")]
        acked = max(acks)
        recovered = rebuild(root, verify=True)
        assert recovered.last_seq >= acked, f"cycle {cycle}: lost acknowledged seq {acked}"
        assert recovered.mismatched_batches == []
        from_start = rebuild(root, use_snapshot=False)
        assert from_start.last_seq == recovered.last_seq
        assert state_hash(from_start.core) == state_hash(recovered.core)
    assert acked > 0
