"""H3/M2: identifiers are printable ASCII of bounded length, whatever gateway sent them.

A NUL in a client order id or symbol stopped the PostgreSQL reporter for good;
an SOH was written verbatim into FIX ExecutionReports. The core refuses both,
creates nothing, and never echoes them in an event.
"""

import pytest

from exchange.core import (
    CancelOrder,
    Deposit,
    NewOrder,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
    Withdraw,
)
from exchange.core.events import CancelRejected, CommandRejected, OrderRejected
from tests.core.harness import SYMBOL, only, standard

BAD = ["a\x00b", "\x00", "X\x0139=2", "tab\there", "new\nline", "sp ace", "é", "\x7f", "x" * 65, ""]


def new_order(coid: str, symbol: str = SYMBOL) -> NewOrder:
    return NewOrder(
        account=1,
        client_order_id=coid,
        symbol=symbol,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        price=10_000,
        quantity=100,
    )


@pytest.mark.parametrize("coid", BAD)
def test_h3_core_refuses_control_characters(coid: str) -> None:
    h = standard()
    next_order_id = h.core.next_order_id
    refused = only(h.apply(new_order(coid)), OrderRejected)
    assert refused.reason is RejectReason.INVALID_CLIENT_ORDER_ID
    assert refused.order_id == 0 and refused.client_order_id == ""  # nothing kept or echoed
    assert h.core.next_order_id == next_order_id
    assert coid not in h.core.accounts[1].orders_by_client_id
    cancel = only(h.apply(CancelOrder(account=1, order_id=0, client_order_id=coid)), CancelRejected)
    assert cancel.client_order_id == ""
    for kind in (Deposit, Withdraw):
        moved = only(
            h.apply(kind(account=1, asset="IRR", amount=1, reference=coid)), CommandRejected
        )
        assert moved.reason is RejectReason.INVALID_REFERENCE
    assert coid not in h.core.references


@pytest.mark.parametrize("symbol", ["FOO\x00LAD", "FOOLAD\x01", "foolad", "F-1", "A" * 13, ""])
def test_h3_core_refuses_a_symbol_that_cannot_exist(symbol: str) -> None:
    h = standard()
    next_order_id = h.core.next_order_id
    refused = only(h.apply(new_order("ok-1", symbol)), OrderRejected)
    assert refused.reason is RejectReason.INVALID_SYMBOL
    assert refused.order_id == 0 and refused.symbol == ""
    assert h.core.next_order_id == next_order_id


def test_h3_printable_identifiers_still_work() -> None:
    h = standard()
    coid = "".join(chr(c) for c in range(0x21, 0x7F))[:64]
    events = h.apply(new_order(coid))
    assert type(events[0]).__name__ == "OrderAccepted" and events[0].client_order_id == coid
    unknown = only(h.apply(new_order("ok-2", "NOPE1")), OrderRejected)
    assert unknown.reason is RejectReason.UNKNOWN_SYMBOL and unknown.symbol == "NOPE1"
