"""Token buckets in shared memory: the same answers as `TokenBuckets`, one limit across forks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from exchange.web.ratelimit import TokenBuckets
from exchange.web.sharedbuckets import WAYS, BucketTable, SharedTokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_it_answers_as_the_in_process_buckets_do() -> None:
    clock = Clock()
    shared = SharedTokenBuckets(BucketTable(sets=8), "c", 2.0, 4, clock=clock)
    local = TokenBuckets(2.0, 4, clock=clock)
    for step in range(60):
        clock.now += 0.13 * (step % 5)
        for key in ("a", "b", "c"):
            assert shared.take(key) == pytest.approx(local.take(key))


def test_namespaces_keep_limits_apart() -> None:
    table = BucketTable(sets=8)
    clock = Clock()
    per_ip = SharedTokenBuckets(table, "ip", 1.0, 1, clock=clock)
    per_client = SharedTokenBuckets(table, "client", 1.0, 1, clock=clock)
    assert per_ip.take("k") == 0.0
    assert per_client.take("k") == 0.0
    assert per_ip.take("k") > 0 and per_client.take("k") > 0


def test_a_full_set_evicts_the_key_idle_longest_which_starts_full_again() -> None:
    clock = Clock()
    buckets = SharedTokenBuckets(BucketTable(sets=1), "x", 1.0, 1, clock=clock)
    keys = [f"k{n}" for n in range(WAYS + 1)]
    for key in keys[:WAYS]:
        clock.now += 0.01
        assert buckets.take(key) == 0.0
    clock.now += 0.01
    assert buckets.take(keys[WAYS]) == 0.0  # took k0's slot (idle longest)
    assert buckets.take(keys[1]) > 0  # still held, still empty
    assert buckets.take(keys[0]) == 0.0  # evicted: starts full (errs on serving)


def test_forked_processes_take_from_one_bucket() -> None:
    table = BucketTable(sets=64)
    buckets = SharedTokenBuckets(table, "client", 0.001, 10)
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            table.attach()
            taken = sum(buckets.take("one credential") == 0.0 for _ in range(10))
            os._exit(taken)
        children.append(pid)
    taken = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert sum(taken) == 10  # one burst between them, not one each


def test_a_process_that_hashes_otherwise_is_refused() -> None:
    table = BucketTable(sets=1)
    table._seed[0] += 1  # as a table made by a process with another hash seed
    with pytest.raises(RuntimeError, match="forked"):
        table.attach()


def test_hash_seeds_differ_between_unrelated_processes() -> None:
    """Why `attach` checks: a spawned process would put keys in other slots."""
    code = "print(hash('exchange.web.sharedbuckets'))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    runs = {subprocess.check_output([sys.executable, "-c", code], env=env) for _ in range(3)}
    assert len(runs) > 1
