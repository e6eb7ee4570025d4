"""Matching: price-time priority, sweeps, IOC, FOK, self-trade prevention, risk."""

from exchange.core import CloseSession, RejectReason
from exchange.core.enums import CancelReason, OrderStatus, TimeInForce
from exchange.core.events import Fill, OrderAccepted, OrderCanceled, OrderRejected
from tests.core.harness import standard


def order_id(events: list) -> int:
    return next(e.order_id for e in events if type(e) is OrderAccepted)


def fills(events: list) -> list[tuple[int, int, int]]:
    """(order id, price, quantity) of each execution, in emission order."""
    return [(f.order_id, f.price, f.quantity) for f in events if type(f) is Fill]


def test_seed_example_market_buy_takes_the_best_level_and_part_of_the_next() -> None:
    h = standard()
    a = order_id(h.order(2, "sell", 1_000, 10_010))
    b = order_id(h.order(3, "sell", 1_200, 10_010))
    c = order_id(h.order(2, "sell", 1_500, 10_020))
    h.order(3, "sell", 800, 10_030)
    assert h.levels("sell")[0] == (10_010, 2_200)
    events = h.order(1, "buy", 2_700, market=True)
    taker = order_id(events)
    assert fills(events) == [
        (taker, 10_010, 1_000),
        (a, 10_010, 1_000),
        (taker, 10_010, 1_200),
        (b, 10_010, 1_200),
        (taker, 10_020, 500),
        (c, 10_020, 500),
    ]
    assert h.levels("sell") == [(10_020, 1_000), (10_030, 800)]
    assert h.core.orders[taker].status is OrderStatus.FILLED
    assert h.core.orders[c].status is OrderStatus.PARTIALLY_FILLED


def test_price_then_time_priority() -> None:
    h = standard()
    first = order_id(h.order(2, "buy", 100, 10_000))
    second = order_id(h.order(3, "buy", 100, 10_000))
    better = order_id(h.order(4, "buy", 100, 10_010))
    assert h.queue("buy", 10_000) == [first, second]
    events = h.order(1, "sell", 300, 9_990)
    assert [f[0] for f in fills(events)[1::2]] == [better, first, second]
    assert [f[1] for f in fills(events)] == [10_010, 10_010, 10_000, 10_000, 10_000, 10_000]


def test_each_trade_has_one_id_and_two_executions() -> None:
    h = standard()
    h.order(2, "sell", 100, 10_000)
    h.order(3, "sell", 100, 10_010)
    events = h.order(1, "buy", 200, 10_010)
    trade_fills = [e for e in events if type(e) is Fill]
    assert len(trade_fills) == 4
    ids = [f.trade_id for f in trade_fills]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert [f.aggressor for f in trade_fills] == [True, False, True, False]
    assert [f.leaves_quantity for f in trade_fills] == [100, 0, 0, 0]


def test_cancel_from_the_middle_of_a_level_keeps_the_others_in_order() -> None:
    h = standard()
    ids = [order_id(h.order(2 + i % 3, "sell", 100, 10_000)) for i in range(5)]
    h.cancel(2 + 2 % 3, ids[2])
    assert h.queue("sell", 10_000) == [ids[0], ids[1], ids[3], ids[4]]
    assert h.levels("sell") == [(10_000, 400)]
    events = h.order(1, "buy", 400, 10_000)
    assert [f[0] for f in fills(events)[1::2]] == [ids[0], ids[1], ids[3], ids[4]]
    assert h.levels("sell") == []


def test_many_cancels_behind_a_resting_order_do_not_grow_the_level() -> None:
    h = standard()
    h.order(2, "sell", 100, 10_000)
    for _ in range(200):
        h.cancel(3, order_id(h.order(3, "sell", 100, 10_000)))
    level = h.core.books["FOOLAD"].asks.levels[10_000]
    assert len(level.orders) <= 2 * 16 + 2
    assert h.levels("sell") == [(10_000, 100)]


def test_limit_order_rests_its_remainder_after_trading() -> None:
    h = standard()
    h.order(2, "sell", 100, 10_000)
    events = h.order(1, "buy", 300, 10_010)
    assert len(fills(events)) == 2
    assert h.levels("buy") == [(10_010, 200)]
    assert h.levels("sell") == []


def test_ioc_trades_what_it_can_and_cancels_the_rest() -> None:
    h = standard()
    h.order(2, "sell", 100, 10_000)
    events = h.order(1, "buy", 300, 10_000, tif=TimeInForce.IOC)
    assert len(fills(events)) == 2
    canceled = next(e for e in events if type(e) is OrderCanceled)
    assert (canceled.canceled_quantity, canceled.reason) == (200, CancelReason.IOC_REMAINDER)
    assert h.levels("buy") == [] and h.cash(1)[1] == 0


def test_fok_fills_completely_or_not_at_all() -> None:
    h = standard()
    h.order(2, "sell", 100, 10_000)
    h.order(3, "sell", 100, 10_010)
    events = h.order(1, "buy", 300, 10_010, tif=TimeInForce.FOK)
    assert fills(events) == []
    assert next(e for e in events if type(e) is OrderCanceled).reason is (
        CancelReason.FOK_UNFILLABLE
    )
    assert h.levels("sell") == [(10_000, 100), (10_010, 100)] and h.cash(1)[1] == 0
    events = h.order(1, "buy", 200, 10_010, tif=TimeInForce.FOK)
    assert len(fills(events)) == 4 and h.levels("sell") == []


def test_fok_counts_only_liquidity_before_an_own_order() -> None:
    h = standard()
    h.order(2, "sell", 100, 10_000)
    h.order(1, "sell", 100, 10_000)
    h.order(3, "sell", 100, 10_000)
    events = h.order(1, "buy", 200, 10_000, tif=TimeInForce.FOK)
    assert fills(events) == []


def test_self_trade_prevention_cancels_the_incoming_remainder() -> None:
    h = standard()
    other = order_id(h.order(2, "sell", 100, 10_000))
    own = order_id(h.order(1, "sell", 100, 10_000))
    events = h.order(1, "buy", 300, 10_010)
    assert [f[0] for f in fills(events)[1::2]] == [other]
    canceled = next(e for e in events if type(e) is OrderCanceled)
    assert (canceled.reason, canceled.canceled_quantity) == (CancelReason.SELF_TRADE, 200)
    assert h.core.orders[own].status is OrderStatus.NEW
    assert h.levels("sell") == [(10_000, 100)] and h.levels("buy") == []


def test_market_order_on_an_empty_book_is_canceled_for_no_liquidity() -> None:
    h = standard()
    events = h.order(1, "sell", 100, market=True)
    assert next(e for e in events if type(e) is OrderCanceled).reason is CancelReason.NO_LIQUIDITY
    assert h.shares(1)[1] == 0


def test_market_order_sweeps_only_up_to_the_band() -> None:
    h = standard()
    h.order(2, "sell", 100, 10_500)  # the band's high edge: reachable
    events = h.order(1, "buy", 200, market=True)
    assert [f[1] for f in fills(events)] == [10_500, 10_500]
    assert next(e for e in events if type(e) is OrderCanceled).canceled_quantity == 100


def test_risk_limit_counts_filled_and_open_quantity_per_day() -> None:
    h = standard()
    h.listing("LIMITED", daily_limit=1_000, reference_price=10_000)
    for account in (1, 2):
        h.account(4 + account, cash=10**12, shares={"LIMITED": 10_000})
    buyer, seller = 5, 6
    first = order_id(h.order(buyer, "buy", 600, 10_000, symbol="LIMITED"))
    rejected = h.order(buyer, "buy", 500, 10_000, symbol="LIMITED")
    assert next(e for e in rejected if type(e) is OrderRejected).reason is RejectReason.RISK_LIMIT
    h.order(seller, "sell", 600, 10_000, symbol="LIMITED")  # fills: 600 filled, 0 open
    open_id = order_id(h.order(buyer, "buy", 400, 10_000, symbol="LIMITED"))
    rejected = h.order(buyer, "buy", 100, 10_000, symbol="LIMITED")
    assert next(e for e in rejected if type(e) is OrderRejected).reason is RejectReason.RISK_LIMIT
    assert first
    # Cancelled quantity is freed; a new trading day starts the filled count from zero.
    h.cancel(buyer, open_id)
    assert order_id(h.order(buyer, "buy", 400, 10_000, symbol="LIMITED"))
    h.apply(CloseSession())
    h.open(20260104)
    assert order_id(h.order(buyer, "buy", 1_000, 10_000, symbol="LIMITED"))
