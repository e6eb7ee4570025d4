"""From the engine's integers to the API's words: orders, reports, balances, symbols."""

from typing import Final

from exchange.core import (
    AccountStatus,
    InstrumentStatus,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from exchange.engine.queries import AccountState
from exchange.gateway.schemas import (
    AccountOut,
    CashOut,
    ExecutionOut,
    OrderOut,
    PositionOut,
    ReportOut,
    SymbolOut,
)
from exchange.views.order_view import Execution, OrderView, Report, SymbolView

SIDES: Final = {Side.BUY: "buy", Side.SELL: "sell"}
TYPES: Final = {OrderType.LIMIT: "limit", OrderType.MARKET: "market"}
TIME_IN_FORCE: Final = {
    TimeInForce.DAY: "day",
    TimeInForce.GTC: "gtc",
    TimeInForce.IOC: "ioc",
    TimeInForce.FOK: "fok",
}
STATUSES: Final = {s: s.name.lower() for s in OrderStatus}
ACCOUNT_STATUSES: Final = {AccountStatus.OPEN: "open", AccountStatus.SUSPENDED: "suspended"}
SYMBOL_STATUSES: Final = {InstrumentStatus.ACTIVE: "active", InstrumentStatus.HALTED: "halted"}
SIDE_OF: Final = {v: k for k, v in SIDES.items()}
TYPE_OF: Final = {v: k for k, v in TYPES.items()}
TIME_IN_FORCE_OF: Final = {v: k for k, v in TIME_IN_FORCE.items()}


def ms(ns: int) -> int:
    return ns // 1_000_000


def reason_name(reason: int) -> str | None:
    """A RejectReason as its code (e.g. INSUFFICIENT_FUNDS), None for 0."""
    if not reason:
        return None
    try:
        return RejectReason(reason).name
    except ValueError:
        return f"REASON_{reason}"


def execution_out(e: Execution) -> ExecutionOut:
    return ExecutionOut(e.trade_id, e.price, e.quantity, ms(e.ts))


def order_out(o: OrderView, max_executions: int | None = None) -> OrderOut:
    """The wire form; with `max_executions`, only that many of the latest executions."""
    executions = o.executions if max_executions is None else o.executions[-max_executions:]
    return OrderOut(
        o.id,
        o.account,
        o.client_order_id,
        o.symbol,
        SIDES[o.side],  # type: ignore[arg-type]
        TYPES[o.order_type],  # type: ignore[arg-type]
        TIME_IN_FORCE[o.time_in_force],  # type: ignore[arg-type]
        o.price if o.order_type is OrderType.LIMIT else None,
        o.quantity,
        o.filled,
        o.remaining,
        STATUSES[o.status],  # type: ignore[arg-type]
        reason_name(o.reject_reason),
        ms(o.created),
        [execution_out(e) for e in executions],
        o.cancel_reason,
    )


def report_out(r: Report) -> ReportOut:
    return ReportOut(
        r.seq,
        r.kind,  # type: ignore[arg-type]
        r.order_id,
        r.client_order_id,
        r.symbol,
        SIDES[r.side],  # type: ignore[arg-type]
        TYPES[r.order_type],  # type: ignore[arg-type]
        TIME_IN_FORCE[r.time_in_force],  # type: ignore[arg-type]
        r.price if r.order_type is OrderType.LIMIT else None,
        r.quantity,
        STATUSES[r.status],  # type: ignore[arg-type]
        r.filled,
        r.remaining,
        reason_name(r.reject_reason),
        ms(r.created),
        ms(r.ts),
        execution_out(r.execution) if r.execution is not None else None,
    )


def account_out(state: AccountState) -> AccountOut:
    return AccountOut(
        state.account,
        ACCOUNT_STATUSES[AccountStatus(state.status)],  # type: ignore[arg-type]
        CashOut(state.cash, state.cash_available),
        [PositionOut(p.symbol, p.total, p.available) for p in state.positions],
    )


def symbol_out(s: SymbolView) -> SymbolOut:
    return SymbolOut(
        s.symbol,
        s.name,
        s.tick_size,
        s.lot_size,
        s.reference_price,
        s.low_price,
        s.high_price,
        s.max_order_quantity,
        SYMBOL_STATUSES[s.status],  # type: ignore[arg-type]
    )
