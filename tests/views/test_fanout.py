"""The per-account report fan-out the REST stream and the FIX acceptor share."""

from __future__ import annotations

import asyncio

from exchange.core import OrderStatus, OrderType, Side, TimeInForce
from exchange.views.fanout import ReportFanout
from exchange.views.order_view import ExchangeView, Report


def report(seq: int) -> Report:
    return Report(
        seq, "accepted", seq, f"c{seq}", "FOOLAD", Side.BUY, OrderType.LIMIT, TimeInForce.DAY,
        5_000, 10, OrderStatus.NEW, 0, 10, 0, 1, 1,
    )  # fmt: skip


def drain(queue: asyncio.Queue[Report]) -> list[int]:
    seqs = []
    while not queue.empty():
        seqs.append(queue.get_nowait().seq)
    return seqs


def retained(view: ExchangeView, account: int, *seqs: int) -> None:
    for seq in seqs:
        view.activity(account).add_report(report(seq))


def test_two_subscribers_of_an_account_each_get_its_reports_once_in_order() -> None:
    fanout = ReportFanout(ExchangeView())
    one = fanout.subscribe([7])
    two = fanout.subscribe([7, 8])  # a FIX session following both of its credential's accounts
    reached = fanout.publish([(7, report(1)), (8, report(2)), (9, report(3)), (7, report(4))])
    assert drain(one.queue) == [1, 4]
    assert drain(two.queue) == [1, 2, 4]
    assert set(reached) == {one, two}
    assert fanout.count(7) == 2 and fanout.count(8) == 1
    fanout.unsubscribe(two)
    fanout.publish([(7, report(5)), (8, report(6))])
    assert drain(one.queue) == [5] and drain(two.queue) == []
    assert 8 not in fanout.subscribers


def test_resume_gives_the_retained_reports_after_since_merged_in_event_order() -> None:
    view = ExchangeView(max_reports=3)
    retained(view, 7, 1, 4, 6)
    retained(view, 8, 2, 5)
    fanout = ReportFanout(view)
    reports, complete = fanout.backlog([7, 8], 1)
    assert [r.seq for r in reports] == [2, 4, 5, 6] and complete
    retained(view, 7, 9)  # report 1 leaves account 7's retention
    reports, complete = fanout.backlog([7], 0)
    assert [r.seq for r in reports] == [4, 6, 9] and not complete
    assert fanout.backlog([7], 1) == (reports, True)
    assert fanout.backlog([99], 0) == ([], True)


def test_a_subscriber_that_falls_behind_is_cut_off_and_the_others_go_on() -> None:
    fanout = ReportFanout(ExchangeView(), queue_capacity=2)
    slow = fanout.subscribe([7])
    quick = fanout.subscribe([7], capacity=10)
    fanout.publish([(7, report(seq)) for seq in (1, 2, 3)])
    assert slow.closed.is_set() and drain(slow.queue) == [1, 2]
    assert not quick.closed.is_set() and drain(quick.queue) == [1, 2, 3]
    assert fanout.dropped == 1 and fanout.count(7) == 1
    fanout.publish([(7, report(4))])
    assert drain(slow.queue) == [] and drain(quick.queue) == [4]
