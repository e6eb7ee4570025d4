"""The replicated log and the leader lease against a real 3-member etcd."""

from __future__ import annotations

import time

import pytest

from exchange.cluster.etcd import Etcd
from exchange.cluster.lease import LeaderInfo, LeaderLease
from exchange.cluster.log import FencedError, ReplicatedLog
from tests.cluster.conftest import LOG_KEY, PREFIX


def lease(etcd: Etcd, node: str) -> LeaderLease:
    return LeaderLease(etcd, PREFIX + b"leader", LeaderInfo(node, "tcp://e", "tcp://p"), ttl=1)


def test_one_leader_at_a_time_and_each_new_epoch_is_higher(etcd: Etcd) -> None:
    a, b = lease(etcd, "a"), lease(etcd, "b")
    won = a.campaign()
    assert won is not None
    assert b.campaign() is None  # a holds it
    current = b.current()
    assert current is not None and current[0].node == "a" and current[1] == won.epoch
    a.resign()  # revokes: the key goes at once
    won_b = b.campaign()
    assert won_b is not None and won_b.epoch > won.epoch
    b.resign()


def test_an_append_is_fenced_by_the_epoch_and_a_retry_is_not_doubled(etcd: Etcd) -> None:
    log = ReplicatedLog(etcd, PREFIX, key=LOG_KEY)
    a, b = lease(etcd, "a"), lease(etcd, "b")
    won = a.campaign()
    assert won is not None
    log.append(won.epoch, 1, 2, b"batch-1")
    log.append(won.epoch, 1, 2, b"batch-1")  # a retry after a lost answer: recognised
    log.append(won.epoch, 3, 1, b"batch-3")
    with pytest.raises(FencedError):
        log.append(won.epoch, 3, 1, b"another batch-3")  # never two records at one seq
    assert [(e.first_seq, e.count, e.payload) for e in log.read(1)] == [
        (1, 2, b"batch-1"),
        (3, 1, b"batch-3"),
    ]
    a.resign()
    won_b = b.campaign()
    assert won_b is not None
    with pytest.raises(FencedError):
        log.append(won.epoch, 4, 1, b"from the old leader")  # after the new one won
    log.append(won_b.epoch, 4, 1, b"from the new leader")
    assert [e.epoch for e in log.read(1)] == [won.epoch, won.epoch, won_b.epoch]
    b.resign()


def test_an_expired_lease_ends_the_epoch(etcd: Etcd) -> None:
    log = ReplicatedLog(etcd, PREFIX, key=LOG_KEY)
    a = lease(etcd, "a")
    won = a.campaign()
    assert won is not None
    a._stop_renewing()  # as if the leader were paused: no renewals
    deadline = time.monotonic() + 10
    while a.current() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert a.current() is None  # etcd expired the lease and deleted the key
    with pytest.raises(FencedError):
        log.append(won.epoch, 1, 1, b"late")
    assert log.read(1) == []


def test_trim_keeps_what_the_slowest_node_still_needs(etcd: Etcd) -> None:
    log = ReplicatedLog(etcd, PREFIX, key=LOG_KEY)
    a = lease(etcd, "a")
    won = a.campaign()
    assert won is not None
    for seq in range(1, 11):
        log.append(won.epoch, seq, 1, b"x%d" % seq)
    log.report_progress("a", 10)
    log.report_progress("b", 6)
    assert log.progress() == {"a": 10, "b": 6}
    etcd.compact(log.trim(won.epoch, min(log.progress().values()) + 1))
    assert log.first_seq() == 7
    assert [e.first_seq for e in log.read(1)] == [7, 8, 9, 10]
    a.resign()
