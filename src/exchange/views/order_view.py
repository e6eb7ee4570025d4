"""The trading clients' read model: orders, executions and instruments, projected from events.

Shared by the gateways (REST + WebSocket, FIX). Pure: `apply(batch)` folds
one sequenced batch in and returns the execution reports it produced for
each account (what the streams and FIX sessions push).
Orders need nothing but events (every event carries the order's progress),
so the view is exact; balances are not projected here, because they follow
the core's reservation rules: gateways ask the engine for them.

Memory is bounded: final orders are dropped when a new trading day opens
(as the core does), at most `max_final_orders` final orders and
`max_reports` reports are kept per account, oldest first out. Listings are
paged from per-account sorted indexes (order_index.py), so their cost is
bounded by the page, not by the account.
"""

from collections import deque
from collections.abc import Iterable
from typing import Any

import msgspec

from exchange.core import InstrumentStatus, OrderStatus, OrderType, Side, TimeInForce
from exchange.core.events import (
    Event,
    Fill,
    InstrumentAdded,
    InstrumentStatusChanged,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    ReferencePriceChanged,
    SessionOpened,
)
from exchange.sequencer import Batch, Slice
from exchange.views.order_index import OrderIndex
from exchange.views.projection import Projection


class Execution(msgspec.Struct, gc=False):
    trade_id: int
    price: int
    quantity: int
    ts: int


class OrderView(msgspec.Struct, gc=False):
    """An order as its owner sees it, with every execution."""

    id: int
    account: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    quantity: int
    created: int
    """Epoch nanoseconds of acceptance (or rejection)."""
    status: OrderStatus = OrderStatus.NEW
    filled: int = 0
    remaining: int = 0
    reject_reason: int = 0
    updated: int = 0
    executions: tuple[Execution, ...] = ()
    """A tuple: tuples of untracked items leave the collector's sight (exchange.heap)."""
    cancel_reason: str | None = None
    """Why the engine canceled the rest (NO_LIQUIDITY, SELF_TRADE, IOC_REMAINDER, ...)."""

    @property
    def is_open(self) -> bool:
        return self.status is OrderStatus.NEW or self.status is OrderStatus.PARTIALLY_FILLED


class Report(msgspec.Struct, gc=False):
    """One execution report: the order's state right after event `seq`."""

    seq: int
    kind: str
    """accepted | rejected | fill | canceled | expired"""
    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    quantity: int
    status: OrderStatus
    filled: int
    remaining: int
    reject_reason: int
    created: int
    ts: int
    execution: Execution | None = None


class SymbolView(msgspec.Struct):
    symbol: str
    name: str
    tick_size: int
    lot_size: int
    reference_price: int
    low_price: int
    high_price: int
    max_order_quantity: int
    daily_limit: int
    status: InstrumentStatus = InstrumentStatus.ACTIVE


class AccountActivity:
    """One account's open and recent orders and its recent reports."""

    __slots__ = ("evicted_through", "finals", "open", "reports", "retained")

    def __init__(self, max_reports: int) -> None:
        self.open = OrderIndex()
        """The open orders' ids, sorted (and per symbol)."""
        self.retained = OrderIndex()
        """Every order id the view holds for the account, open or final, sorted."""
        self.finals: deque[int] = deque()
        self.reports: deque[Report] = deque(maxlen=max_reports)
        self.evicted_through = 0
        """The highest report seq no longer retained (a resume from before it is incomplete)."""

    def add_report(self, report: Report) -> None:
        reports = self.reports
        if len(reports) == reports.maxlen:
            self.evicted_through = reports[0].seq
        reports.append(report)

    def since(self, seq: int) -> list[Report]:
        """Retained reports after `seq`, oldest first."""
        return [r for r in self.reports if r.seq > seq]


def _new_order(e: OrderAccepted | OrderRejected, **progress: Any) -> OrderView:
    return OrderView(
        e.order_id,
        e.account,
        e.client_order_id,
        e.symbol,
        e.side,
        e.order_type,
        e.time_in_force,
        e.price,
        e.quantity,
        e.ts,
        updated=e.ts,
        **progress,
    )


def _report(kind: str, order: OrderView, seq: int, ts: int, execution: Execution | None) -> Report:
    return Report(
        seq,
        kind,
        order.id,
        order.client_order_id,
        order.symbol,
        order.side,
        order.order_type,
        order.time_in_force,
        order.price,
        order.quantity,
        order.status,
        order.filled,
        order.remaining,
        order.reject_reason,
        order.created,
        ts,
        execution,
    )


class ExchangeView(Projection):
    def __init__(self, *, max_final_orders: int = 10_000, max_reports: int = 10_000) -> None:
        super().__init__()
        self.orders: dict[int, OrderView] = {}
        self.client_ids: dict[tuple[int, str], int] = {}
        """(account, client order id) -> order id, for the orders the view holds."""
        self.accounts: dict[int, AccountActivity] = {}
        self.symbols: dict[str, SymbolView] = {}
        self.trading_day = 0
        self.max_final_orders = max_final_orders
        self.max_reports = max_reports
        self._out: list[tuple[int, Report]] = []
        """Where the handlers put the reports of the batch being applied."""

    def activity(self, account: int) -> AccountActivity:
        activity = self.accounts.get(account)
        if activity is None:
            activity = self.accounts[account] = AccountActivity(self.max_reports)
        return activity

    def apply(self, batch: Batch | Slice) -> list[tuple[int, Report]]:
        """Fold in one batch (the next in sequence); the reports it produced, by account."""
        reports: list[tuple[int, Report]] = []
        self._out = reports
        self.fold(batch)
        return reports

    def apply_events(
        self, events: Iterable[Event], first_seq: int, reports: list[tuple[int, Report]]
    ) -> None:
        self._out = reports
        self.fold_events(events, first_seq)

    # ------------------------------------------------------------- handlers

    def on_order_accepted(self, e: OrderAccepted, seq: int) -> None:
        order = _new_order(e, remaining=e.quantity)
        self.orders[e.order_id] = order
        self.client_ids[(e.account, e.client_order_id)] = e.order_id
        activity = self.activity(e.account)
        activity.open.add(e.order_id, e.symbol)
        activity.retained.add(e.order_id, e.symbol)
        report = _report("accepted", order, seq, e.ts, None)
        activity.add_report(report)
        self._out.append((e.account, report))

    def on_order_rejected(self, e: OrderRejected, seq: int) -> None:
        if not e.order_id:
            return  # no order exists (unknown account, unusable client order id)
        order = _new_order(e, status=OrderStatus.REJECTED, reject_reason=int(e.reason))
        self.orders[e.order_id] = order
        self.client_ids[(e.account, e.client_order_id)] = e.order_id
        activity = self.activity(e.account)
        activity.retained.add(e.order_id, e.symbol)
        self._finalize(activity, e.order_id)
        report = _report("rejected", order, seq, e.ts, None)
        activity.add_report(report)
        self._out.append((e.account, report))

    def on_fill(self, e: Fill, seq: int) -> None:
        order = self.orders.get(e.order_id)
        if order is None:
            return  # accepted before this view's retention (cannot happen from seq 1)
        execution = Execution(e.trade_id, e.price, e.quantity, e.ts)
        order.executions += (execution,)
        order.filled = e.cum_quantity
        order.remaining = e.leaves_quantity
        order.updated = e.ts
        activity = self.activity(e.account)
        if e.leaves_quantity:
            order.status = OrderStatus.PARTIALLY_FILLED
        else:
            order.status = OrderStatus.FILLED
            self._finalize(activity, e.order_id)
        report = _report("fill", order, seq, e.ts, execution)
        activity.add_report(report)
        self._out.append((e.account, report))

    def on_order_canceled(self, e: OrderCanceled, seq: int) -> None:
        self._ended(e, seq)

    def on_order_expired(self, e: OrderExpired, seq: int) -> None:
        self._ended(e, seq)

    def _ended(self, e: OrderCanceled | OrderExpired, seq: int) -> None:
        order = self.orders.get(e.order_id)
        if order is None:
            return
        canceled = type(e) is OrderCanceled
        order.status = OrderStatus.CANCELED if canceled else OrderStatus.EXPIRED
        if type(e) is OrderCanceled:
            order.cancel_reason = e.reason.name
        order.remaining = 0
        order.updated = e.ts
        activity = self.activity(e.account)
        self._finalize(activity, e.order_id)
        report = _report("canceled" if canceled else "expired", order, seq, e.ts, None)
        activity.add_report(report)
        self._out.append((e.account, report))

    def _finalize(self, activity: AccountActivity, order_id: int) -> None:
        order = self.orders.get(order_id)
        if order is not None:
            activity.open.discard(order_id, order.symbol)
        finals = activity.finals
        finals.append(order_id)
        while len(finals) > self.max_final_orders:
            self._forget(finals.popleft())

    def _forget(self, order_id: int) -> None:
        order = self.orders.pop(order_id, None)
        if order is not None:
            self.client_ids.pop((order.account, order.client_order_id), None)
            activity = self.accounts.get(order.account)
            if activity is not None:
                activity.retained.discard(order_id, order.symbol)

    def on_instrument_status_changed(self, e: InstrumentStatusChanged, seq: int) -> None:
        self.symbols[e.symbol].status = e.status

    def on_reference_price_changed(self, e: ReferencePriceChanged, seq: int) -> None:
        view = self.symbols[e.symbol]
        view.reference_price = e.reference_price
        view.low_price = e.low_price
        view.high_price = e.high_price

    def on_session_opened(self, e: SessionOpened, seq: int) -> None:
        if e.trading_day != self.trading_day:
            self._new_day(e.trading_day)

    def on_instrument_added(self, e: InstrumentAdded, seq: int) -> None:
        self.symbols[e.symbol] = SymbolView(
            e.symbol,
            e.name,
            e.tick_size,
            e.lot_size,
            e.reference_price,
            e.low_price,
            e.high_price,
            e.max_order_quantity,
            e.daily_limit,
        )

    def _new_day(self, trading_day: int) -> None:
        """Final orders of earlier days leave the view, as they leave the core."""
        self.trading_day = trading_day
        for activity in self.accounts.values():
            for order_id in activity.finals:
                self._forget(order_id)
            activity.finals.clear()

    # -------------------------------------------------------------- queries

    def order(self, account: int, order_id: int) -> OrderView | None:
        """The account's order, or None (also when it belongs to someone else)."""
        order = self.orders.get(order_id)
        if order is None or order.account != account:
            return None
        return order

    def order_by_client_id(self, account: int, client_order_id: str) -> OrderView | None:
        order_id = self.client_ids.get((account, client_order_id))
        return None if order_id is None else self.orders.get(order_id)

    def open_orders(
        self, account: int, limit: int = 2**31, *, after: int | None = None,
        symbol: str | None = None,
    ) -> list[OrderView]:  # fmt: skip
        """Open orders, oldest id first: at most `limit`, with ids above the cursor `after`."""
        activity = self.accounts.get(account)
        if activity is None:
            return []
        ids = activity.open.page(limit, after=after, symbol=symbol)
        return [self.orders[i] for i in ids]

    def recent_orders(
        self, account: int, limit: int = 2**31, *, after: int | None = None,
        symbol: str | None = None,
    ) -> list[OrderView]:  # fmt: skip
        """Open and retained final orders, newest id first: at most `limit`, below `after`."""
        activity = self.accounts.get(account)
        if activity is None:
            return []
        ids = activity.retained.page(limit, after=after, symbol=symbol, newest_first=True)
        return [self.orders[i] for i in ids]


def order_from_events(events: Iterable[Event], first_seq: int) -> OrderView | None:
    """The order a NewOrder reply describes (accepted or rejected, with its fills)."""
    scratch = ExchangeView()
    scratch.apply_events(events, first_seq, [])
    return next(iter(scratch.orders.values()), None)
