"""Several generator processes, one result: recorders merge as HDR histograms, users split."""

from __future__ import annotations

import pickle

import pytest

from exchange.loadgen.histograms import Recorder, merge, to_wire
from exchange.loadgen.workers import shares


def recorded(latencies_ms: list[float], second: float, error: str) -> Recorder:
    recorder = Recorder()
    for ms in latencies_ms:
        recorder.record("market", second, ms / 1000)
    recorder.error(error)
    recorder.outcome("cancel_too_late")
    return recorder


def test_merged_recorders_hold_every_sample_of_each_process() -> None:
    fast = recorded([1.0] * 900, 0.5, "timeout_market")
    slow = recorded([100.0] * 100, 1.5, "timeout_market")
    merged = Recorder()
    for part in (fast, slow):
        merge(merged, pickle.loads(pickle.dumps(to_wire(part))))  # across a process boundary
    got = merged.percentiles_ms("market")
    assert got["count"] == 1_000
    assert got["p50"] == pytest.approx(1.0, rel=0.002)
    assert got["p99"] == pytest.approx(100.0, rel=0.002)  # the slow process's tail, not a mean
    assert got["max"] == 100.0
    assert merged.errors == {"timeout_market": 2}
    assert merged.outcomes == {"cancel_too_late": 2}
    seconds = {row["second"]: row["count"] for row in merged.time_series("market")}
    assert seconds == {0: 900, 1: 100}


def test_the_same_second_of_two_processes_is_one_bucket() -> None:
    merged = Recorder()
    for ms in (2.0, 4.0):
        merge(merged, to_wire(recorded([ms] * 10, 3.2, "x")))
    (row,) = merged.time_series("market")
    assert (row["second"], row["count"], row["max"]) == (3, 20, 4.0)


@pytest.mark.parametrize(("items", "count"), [(10, 3), (7, 7), (100, 4), (5, 1)])
def test_shares_are_contiguous_even_and_cover_everything(items: int, count: int) -> None:
    got = shares(list(range(items)), count)
    assert [first for first, _ in got] == [share[0] for _, share in got]
    assert [x for _, share in got for x in share] == list(range(items))
    sizes = [len(share) for _, share in got]
    assert len(sizes) == count and max(sizes) - min(sizes) <= 1
