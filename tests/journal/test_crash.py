"""SIGKILL a process appending to the journal, many times; nothing acknowledged is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exchange.journal import Durability, JournalReader, recover
from tests.journal.test_journal import payload

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("policy", [Durability.WRITE, Durability.FSYNC])
def test_sigkill_at_random_points(tmp_path: Path, policy: Durability) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for cycle in range(30):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.journal.appender", str(tmp_path), policy.value,
             str(rng.randrange(1 << 30))],
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )  # fmt: skip
        assert child.stdout is not None
        first = child.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.15))
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate()
        acks = [
            int(line.split()[1]) for line in [first, *rest.splitlines()] if line.startswith(b"ack")
        ]
        assert acks, f"cycle {cycle}: the appender acknowledged nothing"
        result = recover(tmp_path)
        assert result.next_seq - 1 >= acks[-1], f"cycle {cycle}: lost acknowledged records"
        expected = 1
        for record in JournalReader(tmp_path).read_all():
            assert record.first_seq == expected
            unit = payload(record.first_seq)
            assert record.payload == unit * (len(record.payload) // len(unit))
            assert len(record.payload) % len(unit) == 0
            expected = record.last_seq + 1
        assert expected == result.next_seq


def test_tailing_a_live_writer_process_never_skips(tmp_path: Path) -> None:
    """A reader polls while another process appends (and rolls segments), then is killed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.journal.appender", str(tmp_path), "write", "5"],
        stdout=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert child.stdout is not None
    child.stdout.readline()
    reader = JournalReader(tmp_path)
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert reader.lag() >= 0
        seen.extend((r.first_seq, r.count) for r in reader.poll())
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    recover(tmp_path)
    seen.extend((r.first_seq, r.count) for r in reader.poll())
    assert len(list(tmp_path.glob("*.journal"))) > 1  # it crossed segment rolls
    expected = 1
    for first, count in seen:
        assert first == expected
        expected = first + count
    assert reader.lag() == 0
    assert expected == recover(tmp_path).next_seq
