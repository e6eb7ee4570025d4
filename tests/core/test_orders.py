"""Order validation, wallet reservations and settlement, one rule per test."""

import pytest

from exchange.core import CloseSession, OpenSession, OrderStatus, RejectReason, SetAccountStatus
from exchange.core.commands import NewOrder, SetInstrumentStatus
from exchange.core.enums import AccountStatus, CancelReason, InstrumentStatus, TimeInForce
from exchange.core.events import (
    CancelRejected,
    DuplicateOrder,
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderRejected,
)
from exchange.core.instrument import price_band
from tests.core.harness import OTHER, SYMBOL, Harness, of_type, only, standard


def rejected(events: list) -> RejectReason:
    return only(events, OrderRejected).reason


def test_default_band_is_five_percent_on_the_tick_grid() -> None:
    assert price_band(10_000, 500, 10) == (9_500, 10_500)
    assert price_band(10_010, 500, 10) == (9_510, 10_510)  # 9509.5 rounds up, 10510.5 down
    assert price_band(1_000, 500, 1) == (950, 1_050)
    assert price_band(100, 9_999, 1) == (1, 199)  # never below one tick


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (dict(account=99, side="buy", quantity=100, price=10_000), RejectReason.UNKNOWN_ACCOUNT),
        (dict(symbol="NOPE"), RejectReason.UNKNOWN_SYMBOL),
        (dict(quantity=0), RejectReason.INVALID_QUANTITY),
        (dict(quantity=-100), RejectReason.INVALID_QUANTITY),
        (dict(quantity=150), RejectReason.INVALID_QUANTITY),
        (dict(quantity=100_100), RejectReason.QUANTITY_ABOVE_MAX),
        (dict(price=10_005), RejectReason.INVALID_PRICE),
        (dict(price=-10), RejectReason.INVALID_PRICE),
        (dict(price=9_490), RejectReason.PRICE_OUT_OF_BAND),
        (dict(price=10_510), RejectReason.PRICE_OUT_OF_BAND),
        (dict(price=10_000, market=True), RejectReason.INVALID_PRICE),
    ],
)
def test_invalid_orders_are_rejected_with_a_typed_reason(kwargs: dict, reason) -> None:
    h = standard()
    args = dict(account=1, side="buy", quantity=100, price=10_000)
    args.update(kwargs)
    before = h.cash(1)
    events = h.order(**args)
    assert rejected(events) == reason
    assert h.cash(1) == before
    assert h.levels("buy") == []


def test_a_rejected_order_keeps_its_id_reason_and_client_order_id_but_not_its_whole() -> None:
    """Review H2: a rejected order is one int under its client order id, not an Order."""
    h = standard()
    first = only(h.order(1, "buy", 150, 10_000, coid="x"), OrderRejected)
    assert first.order_id > 0
    assert first.order_id not in h.core.orders
    again = only(h.order(1, "buy", 100, 10_000, coid="x"), DuplicateOrder)
    assert again.order_id == first.order_id
    assert again.status is OrderStatus.REJECTED
    assert again.reject_reason == RejectReason.INVALID_QUANTITY


def test_suspended_account_and_halted_instrument_are_rejected() -> None:
    h = standard()
    h.apply(SetAccountStatus(account=1, status=AccountStatus.SUSPENDED))
    assert rejected(h.order(1, "buy", 100, 10_000)) == RejectReason.ACCOUNT_NOT_OPEN
    h.apply(SetAccountStatus(account=1, status=AccountStatus.OPEN))
    assert only(h.order(1, "buy", 100, 10_000), OrderAccepted)
    h.apply(SetInstrumentStatus(symbol=SYMBOL, status=InstrumentStatus.HALTED))
    assert rejected(h.order(2, "buy", 100, 10_000)) == RejectReason.INSTRUMENT_HALTED
    assert only(h.order(2, "buy", 100, 50_000, symbol=OTHER), OrderAccepted)


def test_suspending_an_account_cancels_its_live_orders_and_releases_them() -> None:
    h = standard()
    h.order(1, "buy", 100, 10_000)
    h.order(1, "sell", 200, 10_100)
    events = h.apply(SetAccountStatus(account=1, status=AccountStatus.SUSPENDED))
    assert [e.reason for e in of_type(events, OrderCanceled)] == [CancelReason.ADMIN] * 2
    assert h.cash(1)[1] == 0 and h.shares(1)[1] == 0
    assert h.levels("buy") == [] and h.levels("sell") == []


def test_market_closed_outside_the_session() -> None:
    h = Harness()
    h.listing()
    h.account(1, cash=10**9)
    assert rejected(h.order(1, "buy", 100, 10_000)) == RejectReason.MARKET_CLOSED
    h.open()
    assert only(h.order(1, "buy", 100, 10_000), OrderAccepted)
    h.apply(CloseSession())
    assert rejected(h.order(1, "buy", 100, 10_000)) == RejectReason.MARKET_CLOSED


def test_duplicate_client_order_id_returns_the_original_and_creates_nothing() -> None:
    h = standard()
    accepted = only(h.order(1, "buy", 300, 10_000, coid="abc"), OrderAccepted)
    h.order(2, "sell", 100, 10_000)
    reserved = h.cash(1)
    next_id = h.core.next_order_id
    events = h.order(1, "buy", 900, 10_100, coid="abc")
    dup = only(events, DuplicateOrder)
    assert len(events) == 1
    assert (dup.order_id, dup.quantity, dup.price) == (accepted.order_id, 300, 10_000)
    assert (dup.cum_quantity, dup.leaves_quantity) == (100, 200)
    assert dup.status is OrderStatus.PARTIALLY_FILLED
    assert h.cash(1) == reserved and h.core.next_order_id == next_id
    # The same client order id in another account is a different order.
    assert only(h.order(3, "buy", 100, 10_000, coid="abc"), OrderAccepted)


def test_buy_limit_reserves_price_times_quantity_and_cancel_releases_it() -> None:
    h = standard(cash=5_000_000)
    accepted = only(h.order(1, "buy", 300, 10_000), OrderAccepted)
    assert h.cash(1) == (5_000_000, 3_000_000)
    assert rejected(h.order(1, "buy", 300, 10_000)) == RejectReason.INSUFFICIENT_FUNDS
    canceled = only(h.cancel(1, accepted.order_id), OrderCanceled)
    assert (canceled.canceled_quantity, canceled.reason) == (300, CancelReason.USER)
    assert h.cash(1) == (5_000_000, 0)


def test_market_buy_reserves_at_the_band_high_and_releases_the_rest() -> None:
    h = standard(cash=10_500 * 1_000)
    h.order(2, "sell", 500, 10_000)
    # 1,000 at the band high (10,500) is exactly the cash held; it fills 500 at 10,000.
    events = h.order(1, "buy", 1_000, market=True)
    assert [f.quantity for f in of_type(events, Fill)] == [500, 500]
    assert only(events, OrderCanceled).reason is CancelReason.MARKET_REMAINDER
    assert h.cash(1) == (10_500 * 1_000 - 500 * 10_000, 0)
    assert h.shares(1) == (1_000_000 + 500, 0)
    # With less cash than band high x quantity the market buy is refused up front.
    assert rejected(h.order(1, "buy", 1_000, market=True)) == RejectReason.INSUFFICIENT_FUNDS


def test_sell_reserves_shares_and_short_selling_is_refused() -> None:
    h = standard(shares=500)
    only(h.order(1, "sell", 300, 10_000), OrderAccepted)
    assert h.shares(1) == (500, 300)
    assert rejected(h.order(1, "sell", 300, 10_000)) == RejectReason.INSUFFICIENT_SHARES
    h.account(5, cash=10**9)
    assert rejected(h.order(5, "sell", 100, 10_000)) == RejectReason.INSUFFICIENT_SHARES


def test_a_fill_settles_both_wallets_at_once_and_releases_the_price_improvement() -> None:
    h = standard(cash=10**9, shares=10_000)
    h.order(2, "sell", 400, 9_900)
    events = h.order(1, "buy", 400, 10_100)  # reserves 10,100 x 400, trades at 9,900
    buy_fill, sell_fill = of_type(events, Fill)
    assert buy_fill.trade_id == sell_fill.trade_id
    assert (buy_fill.account, sell_fill.account) == (1, 2)
    assert buy_fill.aggressor and not sell_fill.aggressor
    assert h.cash(1) == (10**9 - 400 * 9_900, 0)
    assert h.cash(2) == (10**9 + 400 * 9_900, 0)
    assert h.shares(1) == (10_400, 0)
    assert h.shares(2) == (9_600, 0)


def test_cancel_of_unknown_foreign_and_final_orders() -> None:
    h = standard()
    order_id = only(h.order(1, "buy", 100, 10_000, coid="mine"), OrderAccepted).order_id
    assert only(h.cancel(1, 12345), CancelRejected).reason is RejectReason.UNKNOWN_ORDER
    assert only(h.cancel(2, order_id), CancelRejected).reason is RejectReason.NOT_ORDER_OWNER
    assert only(h.cancel(99, order_id), CancelRejected).reason is RejectReason.UNKNOWN_ACCOUNT
    assert only(h.cancel(1, coid="nope"), CancelRejected).reason is RejectReason.UNKNOWN_ORDER
    assert only(h.cancel(1, coid="mine"), OrderCanceled).order_id == order_id
    assert only(h.cancel(1, order_id), CancelRejected).reason is RejectReason.ORDER_FINAL
    h.order(2, "sell", 100, 10_000)
    filled = only(h.order(1, "buy", 100, 10_000), OrderAccepted).order_id
    assert h.core.orders[filled].status is OrderStatus.FILLED
    assert only(h.cancel(1, filled), CancelRejected).reason is RejectReason.ORDER_FINAL


def test_bad_field_values_never_raise() -> None:
    h = standard()
    bad = NewOrder(
        account=1,
        client_order_id="z",
        symbol=SYMBOL,
        side=7,
        order_type=1,
        time_in_force=1,
        price=10_000,
        quantity=100,
    )  # type: ignore[arg-type]
    assert rejected(h.apply(bad)) == RejectReason.INVALID_SIDE
    bad = NewOrder(
        account=1,
        client_order_id="y",
        symbol=SYMBOL,
        side=1,
        order_type=9,
        time_in_force=1,
        price=10_000,
        quantity=100,
    )  # type: ignore[arg-type]
    assert rejected(h.apply(bad)) == RejectReason.INVALID_ORDER_TYPE
    bad = NewOrder(
        account=1,
        client_order_id="w",
        symbol=SYMBOL,
        side=1,
        order_type=1,
        time_in_force=0,
        price=10_000,
        quantity=100,
    )  # type: ignore[arg-type]
    assert rejected(h.apply(bad)) == RejectReason.INVALID_TIME_IN_FORCE
    bad = NewOrder(
        account=1,
        client_order_id="",
        symbol=SYMBOL,
        side=1,
        order_type=1,
        time_in_force=1,
        price=10_000,
        quantity=100,
    )  # type: ignore[arg-type]
    assert rejected(h.apply(bad)) == RejectReason.INVALID_CLIENT_ORDER_ID
    assert rejected(
        h.apply(
            NewOrder(
                account=1,
                client_order_id="v" * 65,
                symbol=SYMBOL,
                side=1,
                order_type=1,
                time_in_force=1,
                price=10_000,
                quantity=100,
            )
        )
    ) == (  # type: ignore[arg-type]
        RejectReason.INVALID_CLIENT_ORDER_ID
    )
    assert h.apply(OpenSession(trading_day=20260103))  # already open: rejected, not raised


def test_day_orders_expire_at_close_and_gtc_orders_survive() -> None:
    h = standard()
    day = only(h.order(1, "buy", 100, 10_000, tif=TimeInForce.DAY), OrderAccepted)
    gtc = only(h.order(1, "buy", 200, 9_900, tif=TimeInForce.GTC), OrderAccepted)
    events = h.apply(CloseSession())
    (expired,) = [e for e in events if type(e).__name__ == "OrderExpired"]
    assert (expired.order_id, expired.expired_quantity) == (day.order_id, 100)
    assert h.core.orders[day.order_id].status is OrderStatus.EXPIRED
    assert h.cash(1)[1] == 200 * 9_900
    h.open(20260104)
    assert h.levels("buy") == [(9_900, 200)]
    assert h.core.orders[gtc.order_id].status is OrderStatus.NEW
