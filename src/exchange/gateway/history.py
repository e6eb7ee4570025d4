"""Trading history from the reporter's database: executions and orders, one account at a time.

Read-only queries (SQLAlchemy Core) on the tables the reporter writes;
they run in the thread pool. Paging is by a cursor (the last row's
sequence number), so a page never repeats or skips rows that arrive while
a client pages. Times in and out are epoch milliseconds; the database
keeps the engine's nanoseconds.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from exchange.core import OrderStatus, OrderType, RejectReason, Side, TimeInForce
from exchange.reporter.schema import executions, orders
from exchange.views.order_view import Execution, OrderView

NS_PER_MS = 1_000_000
MAX_TIME_MS = (2**63 - 1) // NS_PER_MS - 1
"""The latest startTime/endTime: in nanoseconds it still fits the database's 64-bit integer."""
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_TYPES = {"limit": OrderType.LIMIT, "market": OrderType.MARKET}
_TIFS = {t.name.lower(): t for t in TimeInForce}
_STATUSES = {s.name.lower(): s for s in OrderStatus}


class HistoryUnavailableError(Exception):
    """The report database is not there (yet): the caller answers 503."""


@dataclass(frozen=True)
class Window:
    account: int
    symbol: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    after: int = 0
    """The cursor: rows after this one."""
    limit: int = 100


@dataclass(frozen=True)
class ExecutionRow:
    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: int
    quantity: int
    time_ms: int
    seq: int


class History:
    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, pool_pre_ping=True)

    def _time_filter(
        self, column: sa.ColumnElement[int], window: Window
    ) -> list[sa.ColumnElement[bool]]:
        out = []
        if window.start_ms is not None:
            out.append(column >= window.start_ms * NS_PER_MS)
        if window.end_ms is not None:
            out.append(column < (window.end_ms + 1) * NS_PER_MS)
        return out

    def executions(self, window: Window, order_id: int | None) -> list[ExecutionRow]:
        e = executions.c
        where = [e.account == window.account, e.event_seq > window.after]
        where += self._time_filter(e.time, window)
        if window.symbol is not None:
            where.append(e.symbol == window.symbol)
        if order_id is not None:
            where.append(e.order_id == order_id)
        query = sa.select(executions).where(*where).order_by(e.event_seq).limit(window.limit)
        rows = self._run(query)
        return [
            ExecutionRow(
                r.trade_id,
                r.order_id,
                r.symbol,
                r.side,
                r.price,
                r.quantity,
                r.time // NS_PER_MS,
                r.event_seq,
            )
            for r in rows
        ]

    def orders(self, window: Window, status: str | None) -> list[OrderView]:
        """Orders created in the window, oldest first after the cursor (an order id)."""
        o = orders.c
        where = [o.account == window.account, o.order_id > window.after]
        where += self._time_filter(o.created_at, window)
        if window.symbol is not None:
            where.append(o.symbol == window.symbol)
        if status == "open":
            where.append(o.status.in_(("new", "partially_filled")))
        elif status is not None and status != "all":
            where.append(o.status == status)
        query = sa.select(orders).where(*where).order_by(o.order_id).limit(window.limit)
        rows = self._run(query)
        ids = [r.order_id for r in rows]
        fills: dict[int, list[Execution]] = {i: [] for i in ids}
        if ids:
            e = executions.c
            for r in self._run(
                sa.select(executions).where(e.order_id.in_(ids)).order_by(e.event_seq)
            ):
                fills[r.order_id].append(Execution(r.trade_id, r.price, r.quantity, r.time))
        return [
            OrderView(
                r.order_id,
                r.account,
                r.client_order_id,
                r.symbol,
                _SIDES[r.side],
                _TYPES[r.order_type],
                _TIFS[r.time_in_force],
                r.price,
                r.quantity,
                r.created_at,
                status=_STATUSES[r.status],
                filled=r.filled_quantity,
                remaining=r.remaining_quantity,
                reject_reason=0 if r.reject_reason is None else _reason(r.reject_reason),
                updated=r.updated_at,
                executions=tuple(fills[r.order_id]),
            )
            for r in rows
        ]

    def _run(self, query: sa.Select[tuple[object, ...]]) -> list[sa.Row[tuple[object, ...]]]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query))
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
            raise HistoryUnavailableError(str(error).splitlines()[0][:200]) from None

    def close(self) -> None:
        self.engine.dispose()


def _reason(name: str) -> int:
    try:
        return int(RejectReason[name])
    except KeyError:
        return 0
