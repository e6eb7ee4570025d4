"""FIX application messages <-> engine commands and execution reports (pure).

NewOrderSingle (D) becomes a NewOrder, OrderCancelRequest (F) a
CancelOrder; execution reports are built from the order view's reports (the
engine's events), so a session reports exactly what the engine did, in
event order, whichever path the event came by. Prices and quantities stay
integers; AvgPx is an exact decimal string.
"""

from decimal import Decimal

from exchange.core import CancelOrder, NewOrder, OrderType, RejectReason
from exchange.fix.codec import Message, timestamp
from exchange.fix.vocabulary import (
    EXEC_TYPE,
    FIX44_SIDES,
    ORD_STATUS,
    ORDER_TYPES,
    SIDE_CODES,
    SIDES,
    TIF_CODES,
    TIME_IN_FORCE,
    TYPE_CODES,
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    FixSide,
    FixTimeInForce,
    OrdRejReason,
    OrdStatus,
    Tag,
    ord_rej_reason,
)
from exchange.views.order_view import OrderView, Report

Body = list[tuple[int, str | int]]
MAX_DIGITS = 18
"""Every integer tag: at most 18 digits (below 2^63), so no int() of a huge string."""


class BadRequestError(Exception):
    """A malformed application message (a required tag missing, a number that is not one):
    (tag, text) for a session-level Reject."""

    def __init__(self, tag: int, text: str) -> None:
        super().__init__(text)
        self.tag = tag
        self.text = text


class UnsupportedOrderError(Exception):
    """A well-formed order with a value FIX defines but this exchange does not take (OrdType
    stop, TimeInForce GTD, ...): an ExecutionReport rejection with OrdRejReason 11, so the
    broker's order management closes the order, not a session Reject."""

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
    """A whole number; "5430.00" is 5430 (FIX engines often write prices and quantities as
    decimals), "5430.5" is refused (prices are whole Rial, quantities whole shares)."""
    value = message.get(tag)
    if value is None and not required:
        return 0
    if value is not None and "." in value:
        whole, _, fraction = value.partition(".")
        value = whole if fraction.strip("0") == "" and whole else value
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > MAX_DIGITS:
        raise BadRequestError(tag, f"tag {tag} must be a whole number")
    return int(value)


def new_order(message: Message, account: int) -> NewOrder:
    raw = _required(message, Tag.SIDE)
    side = SIDES.get(raw)
    kind = _required(message, Tag.ORD_TYPE)
    order_type = ORDER_TYPES.get(kind)
    tif_raw = message.get(Tag.TIME_IN_FORCE) or FixTimeInForce.DAY
    tif = TIME_IN_FORCE.get(tif_raw)
    if side is None:
        raise UnsupportedOrderError(Tag.SIDE, f"Side {raw} is not supported: 1 (buy) or 2 (sell)")
    if order_type is None:
        raise UnsupportedOrderError(
            Tag.ORD_TYPE, f"OrdType {kind} is not supported: 1 (market) or 2 (limit)"
        )
    if tif is None:
        raise UnsupportedOrderError(
            Tag.TIME_IN_FORCE, f"TimeInForce {tif_raw} is not supported: 0, 1, 3 or 4"
        )
    price = _integer(message, Tag.PRICE, required=order_type is OrderType.LIMIT)
    return NewOrder(
        account=account,
        client_order_id=_required(message, Tag.CL_ORD_ID)[:64],
        symbol=_required(message, Tag.SYMBOL)[:16],
        side=side,
        order_type=order_type,
        time_in_force=tif,
        price=price,
        quantity=_integer(message, Tag.ORDER_QTY),
    )


def cancel_order(message: Message, account: int) -> CancelOrder:
    _required(message, Tag.CL_ORD_ID)
    order_id = message.get(Tag.ORDER_ID)
    if order_id and order_id.isascii() and order_id.isdigit() and len(order_id) <= MAX_DIGITS:
        return CancelOrder(account=account, order_id=int(order_id))
    return CancelOrder(account=account, client_order_id=_required(message, Tag.ORIG_CL_ORD_ID)[:64])


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
        (Tag.ORDER_ID, report.order_id),
        (Tag.CL_ORD_ID, cancel[0] if cancel else report.client_order_id),
    ]
    if cancel:
        body.append((Tag.ORIG_CL_ORD_ID, cancel[1]))
    body += [
        (Tag.EXEC_ID, report.seq),
        (Tag.EXEC_TYPE, EXEC_TYPE[report.kind]),
        (Tag.ORD_STATUS, ORD_STATUS[report.status]),
        (Tag.SYMBOL, report.symbol),
        (Tag.SIDE, SIDE_CODES[report.side]),
        (Tag.ORDER_QTY, report.quantity),
        (Tag.ORD_TYPE, TYPE_CODES[report.order_type]),
        (Tag.TIME_IN_FORCE, TIF_CODES[report.time_in_force]),
    ]
    if report.order_type is OrderType.LIMIT:
        body.append((Tag.PRICE, report.price))
    if report.execution is not None:
        body += [
            (Tag.LAST_PX, report.execution.price),
            (Tag.LAST_QTY, report.execution.quantity),
        ]
    body += [
        (Tag.LEAVES_QTY, report.remaining),
        (Tag.CUM_QTY, report.filled),
        (Tag.AVG_PX, _avg_price(order) if order is not None else "0"),
        (Tag.TRANSACT_TIME, timestamp()),
    ]
    if report.kind == "rejected":
        reason = RejectReason(report.reject_reason)
        body += [(Tag.ORD_REJ_REASON, ord_rej_reason(reason)), (Tag.TEXT, reason.name)]
    return body


def status_report(order: OrderView, exec_id: str) -> Body:
    """ExecType I (order status), for an OrderStatusRequest."""
    body: Body = [
        (Tag.ORDER_ID, order.id),
        (Tag.CL_ORD_ID, order.client_order_id),
        (Tag.EXEC_ID, exec_id),
        (Tag.EXEC_TYPE, ExecType.ORDER_STATUS),
        (Tag.ORD_STATUS, ORD_STATUS[order.status]),
        (Tag.SYMBOL, order.symbol),
        (Tag.SIDE, SIDE_CODES[order.side]),
        (Tag.ORDER_QTY, order.quantity),
        (Tag.ORD_TYPE, TYPE_CODES[order.order_type]),
        (Tag.TIME_IN_FORCE, TIF_CODES[order.time_in_force]),
    ]
    if order.order_type is OrderType.LIMIT:
        body.append((Tag.PRICE, order.price))
    body += [
        (Tag.LEAVES_QTY, order.remaining),
        (Tag.CUM_QTY, order.filled),
        (Tag.AVG_PX, _avg_price(order)),
        (Tag.TRANSACT_TIME, timestamp()),
    ]
    return body


def _no_order(message: Message, exec_id: str, exec_type: ExecType, tail: Body) -> Body:
    """An ExecutionReport about a request that names no order the exchange holds."""
    side = message.get(Tag.SIDE) or ""
    return [
        (Tag.ORDER_ID, message.get(Tag.ORDER_ID) or "NONE"),
        (Tag.CL_ORD_ID, message.get(Tag.CL_ORD_ID) or "NONE"),
        (Tag.EXEC_ID, exec_id),
        (Tag.EXEC_TYPE, exec_type),
        (Tag.ORD_STATUS, OrdStatus.REJECTED),
        (Tag.SYMBOL, message.get(Tag.SYMBOL) or "NONE"),
        (Tag.SIDE, side if side in FIX44_SIDES else FixSide.BUY),
        (Tag.LEAVES_QTY, 0),
        (Tag.CUM_QTY, 0),
        (Tag.AVG_PX, "0"),
        *tail,
        (Tag.TRANSACT_TIME, timestamp()),
    ]


def unknown_order_status(message: Message, exec_id: str) -> Body:
    return _no_order(message, exec_id, ExecType.ORDER_STATUS, [(Tag.TEXT, "unknown order")])


def refused(message: Message, exec_id: str, reason: RejectReason | None) -> Body:
    """ExecType 8 for an order that was never created: a duplicate ClOrdID (reason None) or
    a refusal before an order id was given (unknown account, unusable ClOrdID)."""
    if reason is None:
        tail: Body = [(Tag.ORD_REJ_REASON, OrdRejReason.DUPLICATE_ORDER),
                      (Tag.TEXT, "duplicate ClOrdID")]  # fmt: skip
    else:
        tail = [(Tag.ORD_REJ_REASON, ord_rej_reason(reason)), (Tag.TEXT, reason.name)]
    return _no_order(message, exec_id, ExecType.REJECTED, tail)


def unsupported(message: Message, exec_id: str, text: str) -> Body:
    """ExecType 8, OrdRejReason 11: a well-formed order with a value this exchange does not take."""
    tail: Body = [
        (Tag.ORD_REJ_REASON, OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC),
        (Tag.TEXT, text[:200]),
    ]
    return _no_order(message, exec_id, ExecType.REJECTED, tail)


def cancel_reject(message: Message, reason: RejectReason, order: OrderView | None) -> Body:
    """OrderCancelReject (9): too late (the order is final) or unknown order.

    Another account's order is answered exactly as an order that does not exist: whether an
    order id belongs to someone else is not the caller's business.
    """
    too_late = reason is RejectReason.ORDER_FINAL and order is not None
    text = RejectReason.ORDER_FINAL.name if too_late else RejectReason.UNKNOWN_ORDER.name
    return [
        (Tag.ORDER_ID, order.id if order else "NONE"),
        (Tag.CL_ORD_ID, message.get(Tag.CL_ORD_ID) or "NONE"),
        (
            Tag.ORIG_CL_ORD_ID,
            message.get(Tag.ORIG_CL_ORD_ID) or (order.client_order_id if order else "NONE"),
        ),
        (Tag.ORD_STATUS, ORD_STATUS[order.status] if order else OrdStatus.REJECTED),
        (Tag.CXL_REJ_RESPONSE_TO, CxlRejResponseTo.ORDER_CANCEL_REQUEST),
        (
            Tag.CXL_REJ_REASON,
            CxlRejReason.TOO_LATE_TO_CANCEL if too_late else CxlRejReason.UNKNOWN_ORDER,
        ),
        (Tag.TEXT, text),
    ]
