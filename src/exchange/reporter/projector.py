"""From sequenced batches to report rows (pure: no SQL, no clock).

Orders are merged from their acceptance (or rejection) and every later
event (fills carry the order's cumulative and remaining quantity; cancels
and expiry carry the cumulative), so no earlier row has to be read back.
Movements are what changes an account's holdings: deposits, withdrawals,
and per fill the cash and the shares that change hands. Balances are the
running totals of movements; at each session close they become that day's
statement. Several batches go into one `Rows` and then one transaction.
"""

from dataclasses import dataclass, field
from typing import Any, Final

from exchange.core import CASH_ASSET, OrderStatus, RejectReason, Side
from exchange.core.events import (
    BalanceChanged,
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    SessionClosed,
    SessionOpened,
)
from exchange.sequencer import Batch
from exchange.views.projection import Projection

STATUS: Final = {s: s.name.lower() for s in OrderStatus}
"""The API's words are the enums' names in lower case (buy, limit, gtc, partially_filled)."""

Row = dict[str, Any]


@dataclass
class Rows:
    """What a group of batches adds: inserted in one transaction with `last_seq`."""

    new_orders: dict[int, Row] = field(default_factory=dict)
    order_updates: dict[int, Row] = field(default_factory=dict)
    executions: list[Row] = field(default_factory=list)
    movements: list[Row] = field(default_factory=list)
    balances: dict[tuple[int, str], int] = field(default_factory=dict)
    """Touched balances, as they stand after the group."""
    statements: list[Row] = field(default_factory=list)
    last_seq: int = 0
    trading_day: int = 0

    def __len__(self) -> int:
        return (
            len(self.new_orders)
            + len(self.order_updates)
            + len(self.executions)
            + len(self.movements)
            + len(self.statements)
        )


class Projector(Projection):
    def __init__(
        self,
        last_seq: int = 0,
        trading_day: int = 0,
        balances: dict[tuple[int, str], int] | None = None,
    ) -> None:
        super().__init__(next_seq=last_seq + 1)
        self.trading_day = trading_day
        self.balances: dict[tuple[int, str], int] = dict(balances or {})
        self._rows = Rows()
        self._ts = 0
        """The time of the batch being added (deposits and withdrawals carry none of their own)."""

    @property
    def last_seq(self) -> int:
        """The last command sequence number added (where the reporter's position stands)."""
        return self.next_seq - 1

    def add(self, batch: Batch) -> None:
        self._ts = batch.ts
        self.fold(batch)

    def take(self) -> Rows:
        """The rows gathered since the last call, stamped with the position they reach."""
        rows, self._rows = self._rows, Rows()
        rows.last_seq = self.last_seq
        rows.trading_day = self.trading_day
        return rows

    # --------------------------------------------------------------- events

    def on_order_accepted(self, e: OrderAccepted, seq: int) -> None:
        self._new_order(e)

    def on_order_rejected(self, e: OrderRejected, seq: int) -> None:
        self._new_order(e)

    def on_order_canceled(self, e: OrderCanceled, seq: int) -> None:
        self._update(e.order_id, OrderStatus.CANCELED, e.cum_quantity, 0, e.ts)

    def on_order_expired(self, e: OrderExpired, seq: int) -> None:
        self._update(e.order_id, OrderStatus.EXPIRED, e.cum_quantity, 0, e.ts)

    def on_session_opened(self, e: SessionOpened, seq: int) -> None:
        self.trading_day = e.trading_day

    def on_session_closed(self, e: SessionClosed, seq: int) -> None:
        self._statement(e.trading_day)

    def _new_order(self, e: OrderAccepted | OrderRejected) -> None:
        if not e.order_id:
            return  # no order exists (unknown account, unusable client order id)
        rejected = type(e) is OrderRejected
        self._rows.new_orders[e.order_id] = {
            "order_id": e.order_id,
            "account": e.account,
            "client_order_id": e.client_order_id,
            "symbol": e.symbol,
            "side": e.side.name.lower(),
            "order_type": e.order_type.name.lower(),
            "time_in_force": e.time_in_force.name.lower(),
            "price": e.price,
            "quantity": e.quantity,
            "filled_quantity": 0,
            "remaining_quantity": 0 if rejected else e.quantity,
            "status": "rejected" if rejected else "new",
            "reject_reason": RejectReason(e.reason).name if type(e) is OrderRejected else None,
            "created_at": e.ts,
            "updated_at": e.ts,
        }

    def _update(
        self, order_id: int, status: OrderStatus, filled: int, remaining: int, ts: int
    ) -> None:
        change = {
            "status": STATUS[status],
            "filled_quantity": filled,
            "remaining_quantity": remaining,
            "updated_at": ts,
        }
        new = self._rows.new_orders.get(order_id)
        if new is not None:
            new.update(change)
        else:
            self._rows.order_updates[order_id] = change

    def _move(
        self, seq: int, account: int, asset: str, amount: int, kind: str, ref: str, ts: int
    ) -> None:
        self._rows.movements.append({
            "event_seq": seq, "asset": asset, "account": account, "amount": amount,
            "kind": kind, "reference": ref, "time": ts,
        })  # fmt: skip
        key = (account, asset)
        total = self.balances.get(key, 0) + amount
        self.balances[key] = total
        self._rows.balances[key] = total

    def on_fill(self, e: Fill, seq: int) -> None:
        status = OrderStatus.FILLED if not e.leaves_quantity else OrderStatus.PARTIALLY_FILLED
        self._update(e.order_id, status, e.cum_quantity, e.leaves_quantity, e.ts)
        side = e.side.name.lower()
        self._rows.executions.append({
            "event_seq": seq, "trade_id": e.trade_id, "order_id": e.order_id,
            "account": e.account, "symbol": e.symbol, "side": side, "price": e.price,
            "quantity": e.quantity, "time": e.ts, "aggressor": e.aggressor,
        })  # fmt: skip
        notional = e.price * e.quantity
        buy = e.side is Side.BUY
        reference = f"trade-{e.trade_id}"
        self._move(
            seq, e.account, CASH_ASSET, -notional if buy else notional, "trade", reference, e.ts
        )
        self._move(
            seq, e.account, e.symbol, e.quantity if buy else -e.quantity, "trade", reference, e.ts
        )

    def on_balance_changed(self, e: BalanceChanged, seq: int) -> None:
        kind = "deposit" if e.amount > 0 else "withdrawal"
        self._move(seq, e.account, e.asset, e.amount, kind, e.reference, self._ts)

    def _statement(self, trading_day: int) -> None:
        for (account, asset), total in sorted(self.balances.items()):
            if total:
                self._rows.statements.append(
                    {"trading_day": trading_day, "account": account, "asset": asset, "total": total}
                )
