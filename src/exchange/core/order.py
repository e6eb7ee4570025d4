"""An order as the core keeps it: mutable, built in C by msgspec, cheap to create."""

import msgspec

from exchange.core.enums import OrderStatus, OrderType, Side, TimeInForce


class Order(msgspec.Struct, gc=False):
    """One order: its request, its progress, and the cash price it reserved per share.

    `reserve_price` is what a buy order reserved per share (its limit, or the
    band's upper price for a market buy); fills release the difference to
    the actual trade price. For a sell it is the most cash per share it can
    bring in (the band's upper price, or a higher resting bid), counted in the
    account's `cash_incoming` so no fill can push cash past MAX_BALANCE.
    Never part of a reference cycle, hence gc=False.
    """

    id: int
    account: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    quantity: int
    ts: int
    leaves: int = 0
    cum: int = 0
    status: OrderStatus = OrderStatus.NEW
    reject_reason: int = 0
    reserve_price: int = 0

    @property
    def is_live(self) -> bool:
        return self.status is OrderStatus.NEW or self.status is OrderStatus.PARTIALLY_FILLED
