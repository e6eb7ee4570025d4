"""Outbound events: everything the core tells the world.

Each command yields a list of events. Events carry what their consumers
(gateways, market data, the reporter) need without asking the core again.
"""

import msgspec

from exchange.core.enums import (
    AccountStatus,
    CancelReason,
    InstrumentStatus,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)


class _Event(msgspec.Struct, array_like=True, gc=False, tag_field="t"):
    pass


class InstrumentAdded(_Event, tag=101, kw_only=True):
    symbol: str
    name: str
    tick_size: int
    lot_size: int
    reference_price: int
    low_price: int
    high_price: int
    max_order_quantity: int
    daily_limit: int


class InstrumentStatusChanged(_Event, tag=102, kw_only=True):
    symbol: str
    status: InstrumentStatus


class ReferencePriceChanged(_Event, tag=103, kw_only=True):
    symbol: str
    reference_price: int
    low_price: int
    high_price: int


class AccountOpened(_Event, tag=110, kw_only=True):
    account: int


class AccountStatusChanged(_Event, tag=111, kw_only=True):
    account: int
    status: AccountStatus


class BalanceChanged(_Event, tag=112, kw_only=True):
    """A deposit (amount > 0) or withdrawal (amount < 0) of cash ("IRR") or shares."""

    account: int
    asset: str
    amount: int
    reference: str
    total: int
    available: int


class CommandRejected(_Event, tag=113, kw_only=True):
    """A non-order command that changed nothing."""

    reason: RejectReason
    account: int = 0
    detail: str = ""


class OrderAccepted(_Event, tag=120, kw_only=True):
    order_id: int
    account: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    quantity: int
    ts: int


class OrderRejected(_Event, tag=121, kw_only=True):
    order_id: int
    """The order exists (status rejected) unless the id is 0 (unknown account)."""
    account: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    quantity: int
    reason: RejectReason
    ts: int


class Fill(_Event, tag=122, kw_only=True):
    """One side's execution of a trade; a trade yields two, sharing trade_id."""

    trade_id: int
    order_id: int
    account: int
    symbol: str
    side: Side
    price: int
    quantity: int
    leaves_quantity: int
    cum_quantity: int
    aggressor: bool
    ts: int


class OrderCanceled(_Event, tag=123, kw_only=True):
    order_id: int
    account: int
    symbol: str
    side: Side
    price: int
    canceled_quantity: int
    cum_quantity: int
    reason: CancelReason
    ts: int


class OrderExpired(_Event, tag=124, kw_only=True):
    order_id: int
    account: int
    symbol: str
    side: Side
    price: int
    expired_quantity: int
    cum_quantity: int
    ts: int


class CancelRejected(_Event, tag=125, kw_only=True):
    account: int
    order_id: int
    client_order_id: str
    reason: RejectReason
    ts: int


class DuplicateOrder(_Event, tag=126, kw_only=True):
    """A NewOrder repeated a client order id: the original order, as it stands now."""

    order_id: int
    account: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    quantity: int
    cum_quantity: int
    leaves_quantity: int
    status: OrderStatus
    reject_reason: int
    """A RejectReason value, or 0 when the original was not rejected."""
    ts: int


class SessionOpened(_Event, tag=130, kw_only=True):
    trading_day: int


class SessionClosed(_Event, tag=131, kw_only=True):
    trading_day: int


Event = (
    InstrumentAdded
    | InstrumentStatusChanged
    | ReferencePriceChanged
    | AccountOpened
    | AccountStatusChanged
    | BalanceChanged
    | CommandRejected
    | OrderAccepted
    | OrderRejected
    | Fill
    | OrderCanceled
    | OrderExpired
    | CancelRejected
    | DuplicateOrder
    | SessionOpened
    | SessionClosed
)


def opened_account(events: list[Event], owner: str) -> int | None:
    """The account an OpenAccount for `owner` opened, or had opened before (a retry).

    ACCOUNT_EXISTS counts only with this owner reference as detail: it then names the
    account bound to this owner, never one of another (review M1). None: not opened.
    """
    for event in events:
        if type(event) is AccountOpened:
            return event.account
        if (
            type(event) is CommandRejected
            and event.reason is RejectReason.ACCOUNT_EXISTS
            and event.detail == owner
        ):
            return event.account
    return None
