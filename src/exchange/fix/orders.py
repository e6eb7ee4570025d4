"""FIX application messages <-> engine commands and execution reports (pure).

NewOrderSingle (D) becomes a NewOrder, OrderCancelRequest (F) a
CancelOrder; execution reports are built from the order view's reports (the
engine's events), so a session reports exactly what the engine did, in
event order, whichever path the event came by. Prices and quantities stay
integers; AvgPx is an exact decimal string.
"""

from decimal import Decimal
from typing import Final

from exchange.core import (
    CancelOrder,
    NewOrder,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from exchange.fix.codec import Message, timestamp
from exchange.views.order_view import OrderView, Report

Body = list[tuple[int, str | int]]

SIDES: Final = {"1": Side.BUY, "2": Side.SELL}
SIDE_CODES: Final = {Side.BUY: "1", Side.SELL: "2"}
ORDER_TYPES: Final = {"1": OrderType.MARKET, "2": OrderType.LIMIT}
TYPE_CODES: Final = {OrderType.MARKET: "1", OrderType.LIMIT: "2"}
TIME_IN_FORCE: Final = {"0": TimeInForce.DAY, "1": TimeInForce.GTC, "3": TimeInForce.IOC,
                        "4": TimeInForce.FOK}  # fmt: skip
TIF_CODES: Final = {v: k for k, v in TIME_IN_FORCE.items()}
ORD_STATUS: Final = {
    OrderStatus.NEW: "0", OrderStatus.PARTIALLY_FILLED: "1", OrderStatus.FILLED: "2",
    OrderStatus.CANCELED: "4", OrderStatus.REJECTED: "8", OrderStatus.EXPIRED: "C",
}  # fmt: skip
EXEC_TYPE: Final = {"accepted": "0", "fill": "F", "canceled": "4", "expired": "C", "rejected": "8"}
ORD_REJ_REASON: Final = {
    RejectReason.UNKNOWN_SYMBOL: 1, RejectReason.MARKET_CLOSED: 2,
    RejectReason.INSTRUMENT_HALTED: 2, RejectReason.QUANTITY_ABOVE_MAX: 3,
    RejectReason.RISK_LIMIT: 3, RejectReason.INSUFFICIENT_FUNDS: 3,
    RejectReason.INSUFFICIENT_SHARES: 3, RejectReason.DUPLICATE_CLIENT_ORDER_ID: 6,
    RejectReason.INVALID_TIME_IN_FORCE: 11, RejectReason.INVALID_QUANTITY: 13,
    RejectReason.UNKNOWN_ACCOUNT: 15, RejectReason.PRICE_OUT_OF_BAND: 16,
    RejectReason.INVALID_PRICE: 18,
}  # fmt: skip
"""The engine's reasons as OrdRejReason (103); anything else is 99 (other), with Text."""


class BadRequestError(Exception):
    """An application message the engine cannot be asked about: (tag, text) for a Reject."""

    def __init__(self, tag: int, text: str) -> None:
        super().__init__(text)
        self.tag = tag
        self.text = text


def _required(message: Message, tag: int) -> str:
    value = message.get(tag)
    if not value:
        raise BadRequestError(tag, f"tag {tag} is required")
    return value


def _integer(message: Message, tag: int, required: bool = True) -> int:
    value = message.get(tag)
    if value is None and not required:
        return 0
    if value is None or not value.isdigit() or len(value) > 15:
        raise BadRequestError(tag, f"tag {tag} must be a whole number")
    return int(value)


def new_order(message: Message, account: int) -> NewOrder:
    side = SIDES.get(_required(message, 54))
    order_type = ORDER_TYPES.get(_required(message, 40))
    tif = TIME_IN_FORCE.get(message.get(59) or "0")
    if side is None:
        raise BadRequestError(54, "Side must be 1 (buy) or 2 (sell)")
    if order_type is None:
        raise BadRequestError(40, "OrdType must be 1 (market) or 2 (limit)")
    if tif is None:
        raise BadRequestError(59, "TimeInForce must be 0, 1, 3 or 4")
    price = _integer(message, 44, required=order_type is OrderType.LIMIT)
    return NewOrder(
        account, _required(message, 11)[:64], _required(message, 55)[:16], side, order_type, tif,
        price, _integer(message, 38),
    )  # fmt: skip


def cancel_order(message: Message, account: int) -> CancelOrder:
    _required(message, 11)
    order_id = message.get(37)
    if order_id and order_id.isdigit():
        return CancelOrder(account, order_id=int(order_id))
    return CancelOrder(account, client_order_id=_required(message, 41)[:64])


def _avg_price(order: OrderView) -> str:
    if not order.filled:
        return "0"
    notional = sum(e.price * e.quantity for e in order.executions)
    return str((Decimal(notional) / Decimal(order.filled)).quantize(Decimal("0.0001")))


def execution_report(
    report: Report, order: OrderView | None, cancel: tuple[str, str] | None = None
) -> Body:
    """An ExecutionReport (8) for one of the view's reports; `cancel`: (ClOrdID, OrigClOrdID)."""
    body: Body = [
        (37, report.order_id),
        (11, cancel[0] if cancel else report.client_order_id),
    ]
    if cancel:
        body.append((41, cancel[1]))
    body += [
        (17, report.seq),
        (150, EXEC_TYPE[report.kind]),
        (39, ORD_STATUS[report.status]),
        (55, report.symbol),
        (54, SIDE_CODES[report.side]),
        (38, report.quantity),
        (40, TYPE_CODES[report.order_type]),
        (59, TIF_CODES[report.time_in_force]),
    ]
    if report.order_type is OrderType.LIMIT:
        body.append((44, report.price))
    if report.execution is not None:
        body += [(31, report.execution.price), (32, report.execution.quantity)]
    body += [
        (151, report.remaining),
        (14, report.filled),
        (6, _avg_price(order) if order is not None else "0"),
        (60, timestamp()),
    ]
    if report.kind == "rejected":
        reason = RejectReason(report.reject_reason)
        body += [(103, ORD_REJ_REASON.get(reason, 99)), (58, reason.name)]
    return body


def status_report(order: OrderView, exec_id: str) -> Body:
    """ExecType I (order status), for an OrderStatusRequest."""
    body: Body = [
        (37, order.id), (11, order.client_order_id), (17, exec_id), (150, "I"),
        (39, ORD_STATUS[order.status]), (55, order.symbol), (54, SIDE_CODES[order.side]),
        (38, order.quantity), (40, TYPE_CODES[order.order_type]),
        (59, TIF_CODES[order.time_in_force]),
    ]  # fmt: skip
    if order.order_type is OrderType.LIMIT:
        body.append((44, order.price))
    body += [(151, order.remaining), (14, order.filled), (6, _avg_price(order)),
             (60, timestamp())]  # fmt: skip
    return body


def _no_order(message: Message, exec_id: str, exec_type: str, tail: Body) -> Body:
    """An ExecutionReport about a request that names no order the exchange holds."""
    return [
        (37, message.get(37) or "NONE"), (11, message.get(11) or "NONE"), (17, exec_id),
        (150, exec_type), (39, "8"), (55, message.get(55) or "NONE"),
        (54, message.get(54) or "1"), (151, 0), (14, 0), (6, "0"), *tail, (60, timestamp()),
    ]  # fmt: skip


def unknown_order_status(message: Message, exec_id: str) -> Body:
    return _no_order(message, exec_id, "I", [(58, "unknown order")])


def refused(message: Message, exec_id: str, reason: RejectReason | None) -> Body:
    """ExecType 8 for an order that was never created: a duplicate ClOrdID (reason None) or
    a refusal before an order id was given (unknown account, unusable ClOrdID)."""
    if reason is None:
        return _no_order(message, exec_id, "8", [(103, 6), (58, "duplicate ClOrdID")])
    return _no_order(
        message, exec_id, "8", [(103, ORD_REJ_REASON.get(reason, 99)), (58, reason.name)]
    )


def cancel_reject(message: Message, reason: RejectReason, order: OrderView | None) -> Body:
    """OrderCancelReject (9): too late (the order is final) or unknown order."""
    too_late = reason is RejectReason.ORDER_FINAL
    return [
        (37, order.id if order else "NONE"),
        (11, message.get(11) or "NONE"),
        (41, message.get(41) or (order.client_order_id if order else "NONE")),
        (39, ORD_STATUS[order.status] if order else "8"),
        (434, 1),
        (102, 0 if too_late else 1),
        (58, reason.name),
    ]
