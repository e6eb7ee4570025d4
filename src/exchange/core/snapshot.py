"""Snapshot, restore and state hash of the core, over one canonical encoding.

The snapshot lists every structure in its insertion order, which is the
order the core iterates in; restoring re-inserts in that order, so a
restored core behaves exactly like the original and encodes to the same
bytes. The state hash is SHA-256 over that encoding: equal hashes mean equal
states, which is how replicas and replays are compared.
"""

import hashlib

import msgspec

from exchange.core.book import BookSide
from exchange.core.enums import (
    AccountStatus,
    InstrumentStatus,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from exchange.core.instrument import Instrument
from exchange.core.machine import ExchangeCore
from exchange.core.order import Order
from exchange.core.wallet import Account, Position, pack_rejection, unpack_rejection

SNAPSHOT_VERSION = 3
"""3: the next account id, and each account's owner reference (review M1).
2: rejected orders as `RejectionState`s of their account, not as orders.
Versions 1 and 2 still restore: their accounts have no owner, and the next account id
is the one after the highest account, as replaying their journal would leave it; a
version 1 snapshot's rejected orders become rejection records."""


class InstrumentState(msgspec.Struct, array_like=True, gc=False):
    symbol: str
    name: str
    tick_size: int
    lot_size: int
    reference_price: int
    max_order_quantity: int
    band_bps: int
    daily_limit: int
    status: int
    last_price: int


class PositionState(msgspec.Struct, array_like=True, gc=False):
    symbol: str
    total: int
    reserved: int
    filled_today: int
    open_quantity: int


class RejectionState(msgspec.Struct, array_like=True, gc=False):
    """A rejected order of the trading day: what a retry of its client order id needs."""

    client_order_id: str
    order_id: int
    reason: int
    ts: int


class AccountState(msgspec.Struct, array_like=True, gc=False):
    account: int
    status: int
    cash: int
    cash_reserved: int
    positions: list[PositionState]
    rejections: list[RejectionState] = []
    """In the order they were rejected (absent from version 1)."""
    owner: str = ""
    """The reference the account was opened for (absent before version 3)."""


class OrderState(msgspec.Struct, array_like=True, gc=False):
    order_id: int
    account: int
    client_order_id: str
    symbol: str
    side: int
    order_type: int
    time_in_force: int
    price: int
    quantity: int
    leaves: int
    cum: int
    status: int
    reject_reason: int
    reserve_price: int
    ts: int


class BookState(msgspec.Struct, array_like=True, gc=False):
    """Resting order ids per level, best level first, oldest order first."""

    symbol: str
    bids: list[list[int]]
    asks: list[list[int]]


class CoreState(msgspec.Struct, array_like=True):
    version: int
    trading_day: int
    session_open: bool
    next_order_id: int
    next_trade_id: int
    instruments: list[InstrumentState]
    accounts: list[AccountState]
    orders: list[OrderState]
    books: list[BookState]
    references: list[str]
    next_account_id: int = 0
    """Absent (0) before version 3."""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CoreState)


def _levels(side: BookSide) -> list[list[int]]:
    return [[o.id for o in level.live_orders()] for level in side.levels_best_first()]


def _rejections(account: Account) -> list[RejectionState]:
    out = []
    for coid, value in account.orders_by_client_id.items():
        if value < 0:
            order_id, reason, ts = unpack_rejection(value)
            out.append(RejectionState(coid, order_id, reason, ts))
    return out


def _keep_rejection(account: Account, coid: str, order_id: int, reason: int, ts: int) -> None:
    account.orders_by_client_id[coid] = pack_rejection(order_id, reason, ts)
    account.rejected_today += 1


def capture(core: ExchangeCore) -> CoreState:
    """The core's whole state as plain data."""
    return CoreState(
        version=SNAPSHOT_VERSION,
        trading_day=core.trading_day,
        session_open=core.session_open,
        next_order_id=core.next_order_id,
        next_trade_id=core.next_trade_id,
        instruments=[
            InstrumentState(
                i.symbol,
                i.name,
                i.tick_size,
                i.lot_size,
                i.reference_price,
                i.max_order_quantity,
                i.band_bps,
                i.daily_limit,
                i.status,
                i.last_price,
            )
            for i in core.instruments.values()
        ],
        accounts=[
            AccountState(
                a.id,
                a.status,
                a.cash,
                a.cash_reserved,
                [
                    PositionState(s, p.total, p.reserved, p.filled_today, p.open_quantity)
                    for s, p in a.positions.items()
                ],
                _rejections(a),
                a.owner,
            )
            for a in core.accounts.values()
        ],
        orders=[
            OrderState(
                o.id,
                o.account,
                o.client_order_id,
                o.symbol,
                o.side,
                o.order_type,
                o.time_in_force,
                o.price,
                o.quantity,
                o.leaves,
                o.cum,
                o.status,
                o.reject_reason,
                o.reserve_price,
                o.ts,
            )
            for o in core.orders.values()
        ],
        books=[BookState(b.symbol, _levels(b.bids), _levels(b.asks)) for b in core.books.values()],
        references=list(core.references),
        next_account_id=core.next_account_id,
    )


def encode(core: ExchangeCore) -> bytes:
    """Canonical bytes of the core's state: the snapshot payload and the hash input."""
    return _encoder.encode(capture(core))


def state_hash(core: ExchangeCore) -> str:
    """SHA-256 (hex) of the canonical encoding."""
    return hashlib.sha256(encode(core)).hexdigest()


def restore(payload: bytes) -> ExchangeCore:
    """Rebuild a core from `encode` output."""
    state = _decoder.decode(payload)
    if state.version not in (1, 2, SNAPSHOT_VERSION):
        raise ValueError(f"unsupported snapshot version {state.version}")
    core = ExchangeCore()
    core.trading_day = state.trading_day
    core.session_open = state.session_open
    core.next_order_id = state.next_order_id
    core.next_trade_id = state.next_trade_id
    for i in state.instruments:
        instrument = Instrument(
            i.symbol,
            i.name,
            i.tick_size,
            i.lot_size,
            i.reference_price,
            i.max_order_quantity,
            i.band_bps,
            i.daily_limit,
        )
        instrument.status = InstrumentStatus(i.status)
        instrument.last_price = i.last_price
        core.instruments[i.symbol] = instrument
    for a in state.accounts:
        account = Account(a.account, a.owner)
        if a.owner:
            core.owners[a.owner] = a.account
        account.status = AccountStatus(a.status)
        account.cash = a.cash
        account.cash_reserved = a.cash_reserved
        for p in a.positions:
            position = account.positions[p.symbol] = Position()
            position.total = p.total
            position.reserved = p.reserved
            position.filled_today = p.filled_today
            position.open_quantity = p.open_quantity
        core.accounts[a.account] = account
        for r in a.rejections:
            _keep_rejection(account, r.client_order_id, r.order_id, r.reason, r.ts)
    for o in state.orders:
        if o.status == OrderStatus.REJECTED:  # version 1 kept rejected orders whole
            _keep_rejection(
                core.accounts[o.account], o.client_order_id, o.order_id, o.reject_reason, o.ts
            )
            continue
        order = Order(
            o.order_id,
            o.account,
            o.client_order_id,
            o.symbol,
            Side(o.side),
            OrderType(o.order_type),
            TimeInForce(o.time_in_force),
            o.price,
            o.quantity,
            o.ts,
        )
        order.leaves = o.leaves
        order.cum = o.cum
        order.status = OrderStatus(o.status)
        order.reject_reason = o.reject_reason
        order.reserve_price = o.reserve_price
        core.orders[o.order_id] = order
        if order.side is Side.SELL and order.leaves:
            core.accounts[o.account].cash_incoming += o.reserve_price * o.leaves
        core.accounts[o.account].orders_by_client_id[o.client_order_id] = o.order_id
    for b in state.books:
        book = core.instruments[b.symbol].book
        for side, levels in ((book.bids, b.bids), (book.asks, b.asks)):
            for ids in reversed(levels):
                for order_id in ids:
                    side.add(core.orders[order_id])
        core.books[b.symbol] = book
    core.references = dict.fromkeys(state.references)
    core.next_account_id = state.next_account_id or max(core.accounts, default=0) + 1
    return core
