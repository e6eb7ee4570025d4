"""The gateway's order view agrees with the core after random trading sessions."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core import ExchangeCore, OrderStatus
from exchange.core.events import Fill, OrderAccepted
from exchange.core.wallet import unpack_rejection
from exchange.sequencer import Batch, Sequencer
from exchange.views.order_view import ExchangeView, order_from_events
from tests.engine.workload import random_batches, setup_batch


def run(seed: int, batches: int, **limits: int) -> tuple[ExchangeCore, ExchangeView, list[Batch]]:
    core = ExchangeCore()
    view = ExchangeView(**limits)
    clock = itertools.count(1_000_000_000)
    sequencer = Sequencer(lambda: next(clock))
    sealed = []
    for commands in [setup_batch(), *random_batches(seed, batches)]:
        first_seq, ts = sequencer.stamp(commands)
        batch = sequencer.seal(first_seq, ts, commands, [core.apply(c, ts) for c in commands])
        view.apply(batch)
        sealed.append(batch)
    return core, view, sealed


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_every_order_of_the_core_is_in_the_view_with_the_same_progress(seed: int) -> None:
    core, view, _ = run(seed, 60)
    for order_id, order in core.orders.items():
        seen = view.orders[order_id]
        assert (seen.account, seen.symbol, seen.side, seen.price, seen.quantity) == (
            order.account, order.symbol, order.side, order.price, order.quantity,
        )  # fmt: skip
        assert seen.status == order.status
        assert seen.filled == order.cum == sum(e.quantity for e in seen.executions)
        if order.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            assert seen.remaining == order.leaves
            assert order_id in view.accounts[order.account].open
        else:
            assert seen.remaining == 0
    # Open orders in the view are exactly the core's live orders.
    view_open = {i for a in view.accounts.values() for i in a.open}
    assert view_open == {i for i, o in core.orders.items() if o.is_live}
    # The sorted listing index holds exactly the orders the view holds, per account.
    for account, activity in view.accounts.items():
        assert set(activity.retained) == {i for i, o in view.orders.items() if o.account == account}
    # Orders the core purged at a day roll are gone from the view as well (no unbounded growth).
    # The core keeps a rejected order as one int under its client order id (review H2); the
    # view keeps it whole, as readers do.
    rejected = {
        unpack_rejection(value)[0]
        for account in core.accounts.values()
        for value in account.orders_by_client_id.values()
        if value < 0
    }
    assert set(view.orders) == set(core.orders) | rejected
    assert set(view.client_ids.values()) == set(view.orders)
    for order in core.orders.values():
        found = view.order_by_client_id(order.account, order.client_order_id)
        assert found is not None and found.id == order.id


def test_reports_are_numbered_by_event_and_resume_from_any_point() -> None:
    _, view, _ = run(7, 40)
    account = max(view.accounts, key=lambda a: len(view.accounts[a].reports))
    reports = list(view.accounts[account].reports)
    seqs = [r.seq for r in reports]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    middle = seqs[len(seqs) // 2]
    assert [r.seq for r in view.accounts[account].since(middle)] == [s for s in seqs if s > middle]
    kinds = {r.kind for r in reports}
    assert {"accepted", "fill"} <= kinds


def test_retention_is_bounded_and_says_what_was_evicted() -> None:
    _, view, _ = run(11, 80, max_final_orders=5, max_reports=20)
    for activity in view.accounts.values():
        assert len(activity.finals) <= 5 and len(activity.reports) <= 20
    busiest = max(view.accounts.values(), key=lambda a: a.evicted_through)
    assert busiest.evicted_through > 0
    assert busiest.reports[0].seq > busiest.evicted_through


def test_a_reply_alone_gives_the_order_with_its_fills() -> None:
    _, _, sealed = run(3, 40)
    checked = 0
    for batch in sealed:
        seq = batch.first_event_seq
        for events in batch.events:
            if events and type(events[0]) is OrderAccepted and any(type(e) is Fill for e in events):
                order = order_from_events(events, seq)
                assert order is not None and order.id == events[0].order_id
                assert order.filled == sum(
                    e.quantity for e in events if type(e) is Fill and e.order_id == order.id
                )
                checked += 1
            seq += len(events)
    assert checked > 0
