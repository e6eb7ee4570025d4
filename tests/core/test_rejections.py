"""H2 (review 2026-12-05): rejected orders are not kept whole, and their number is bounded.

On 56b90ba every rejected order stayed in the core as a whole Order until the next
trading day (about 370 bytes each, rebuilt by replay), and nothing bounded how many one
account could make: a member could fill the engine's and the standby's memory with
orders sent while the market is closed.
"""

import tracemalloc

from exchange.core import CloseSession, NewOrder, OrderType, RejectReason, Side, TimeInForce
from exchange.core.events import DuplicateOrder, OrderRejected
from exchange.core.machine import MAX_REJECTED_ORDERS
from tests.core.harness import SYMBOL, only, standard


def test_h2_a_rejected_order_costs_a_few_dozen_bytes_not_a_whole_order() -> None:
    h = standard()
    h.apply(CloseSession())  # every order is now rejected MARKET_CLOSED
    for n in range(100):  # warm up the dicts
        h.order(1, "buy", 100, 10_000, coid=f"warm-{n}")
    orders_before = len(h.core.orders)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    count = 5_000
    core, buy = h.core, Side.BUY
    for n in range(count):  # straight to the core: the harness keeps every event it sees
        order = NewOrder(
            account=1,
            client_order_id=f"c{n:060d}",
            symbol=SYMBOL,
            side=buy,
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY,
            price=10_000,
            quantity=100,
        )
        core.apply(order, 1)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    per_order = grown / count
    assert len(h.core.orders) == orders_before  # no Order objects
    # The client order id itself (a 64-character str, ~113 bytes) is what idempotency needs;
    # beside it one int and a dict slot. A whole Order cost about 370 bytes more.
    assert per_order < 260, per_order
    again = only(h.order(1, "buy", 100, 10_000, coid=f"c{0:060d}"), DuplicateOrder)
    assert again.reject_reason == RejectReason.MARKET_CLOSED


def test_h2_rejections_per_account_and_day_are_bounded() -> None:
    h = standard()
    h.apply(CloseSession())
    for n in range(MAX_REJECTED_ORDERS):
        only(h.order(1, "buy", 100, 10_000, coid=f"r{n}"), OrderRejected)
    kept = len(h.core.accounts[1].orders_by_client_id)
    beyond = only(h.order(1, "buy", 100, 10_000, coid="one-more"), OrderRejected)
    assert beyond.reason is RejectReason.REJECTION_LIMIT and beyond.order_id == 0
    assert len(h.core.accounts[1].orders_by_client_id) == kept  # nothing kept for it
    # Another account is not affected.
    assert only(h.order(2, "buy", 100, 10_000, coid="other"), OrderRejected).reason is (
        RejectReason.MARKET_CLOSED
    )
