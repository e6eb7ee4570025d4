"""The public wire format of market data (msgspec Structs, camelCase), built from the books."""

from typing import Final, Literal

import msgspec

from exchange.core import InstrumentStatus, Side
from exchange.marketdata.books import BookSide, SymbolBook, Trade

DEPTHS: Final = (1, 5, 10, 20, 50)
"""The only depths served: a short list keeps the cache small and the work bounded."""
DEFAULT_DEPTH: Final = 10
TRADE_LIMITS: Final = (10, 50, 100, 200)
L3_MAX_ORDERS: Final = 1_000
"""Orders served per side in L3, best first (security review M7): a member resting tens of
thousands of 1-lot orders must not make every L3 request render megabytes. Beyond it the
response says `truncated`; the aggregated depth is in L2."""
SNAPSHOT_DEPTH: Final = DEPTHS[-1]
"""Levels per side in a WebSocket L2 snapshot; later updates cover every level that changes."""
_SIDE: Final = {Side.BUY: "buy", Side.SELL: "sell"}
_STATUS: Final = {InstrumentStatus.ACTIVE: "active", InstrumentStatus.HALTED: "halted"}


class _Out(msgspec.Struct, rename="camel"):
    pass


class LevelOut(_Out):
    price: int
    quantity: int
    orders: int


class L1Out(_Out):
    symbol: str
    seq: int
    bid: LevelOut | None
    ask: LevelOut | None
    last: int | None
    reference_price: int
    status: Literal["active", "halted"]


class L2Out(_Out):
    symbol: str
    seq: int
    bids: list[LevelOut]
    asks: list[LevelOut]


class OrderOut(_Out):
    order_id: int
    price: int
    quantity: int
    time: int
    """Epoch milliseconds of entry."""


class L3Out(_Out):
    symbol: str
    seq: int
    bids: list[OrderOut]
    asks: list[OrderOut]
    truncated: bool = False
    """True when a side held more than `L3_MAX_ORDERS` orders in the levels asked for."""


class TradeOut(_Out):
    id: int
    price: int
    quantity: int
    time: int
    side: Literal["buy", "sell"]
    """The aggressor's side."""


class TradesOut(_Out):
    symbol: str
    seq: int
    trades: list[TradeOut]
    """Newest first."""


class SummaryRow(_Out):
    symbol: str
    name: str
    last: int | None
    reference_price: int
    change: int
    """Last minus reference price (0 before the first trade)."""
    change_bps: int
    bid: int | None
    bid_quantity: int
    ask: int | None
    ask_quantity: int
    volume: int
    high: int | None
    low: int | None
    status: Literal["active", "halted"]
    seq: int


class SummaryOut(_Out):
    engine_seq: int
    symbols: list[SummaryRow]


def _level(best: tuple[int, int, int] | None) -> LevelOut | None:
    return None if best is None else LevelOut(*best)


def l1(book: SymbolBook) -> L1Out:
    return L1Out(
        book.symbol,
        book.seq,
        _level(book.best(Side.BUY)),
        _level(book.best(Side.SELL)),
        book.last_price or None,
        book.reference_price,
        _STATUS[book.status],  # type: ignore[arg-type]
    )


def levels(side: BookSide, depth: int) -> list[LevelOut]:
    return [LevelOut(price, lv.quantity, len(lv.orders)) for price, lv in side.best_first(depth)]


def l2(book: SymbolBook, depth: int) -> L2Out:
    return L2Out(book.symbol, book.seq, levels(book.bids, depth), levels(book.asks, depth))


def _orders(book: SymbolBook, side: BookSide, depth: int) -> tuple[list[OrderOut], bool]:
    """At most `L3_MAX_ORDERS` orders, best first, and whether more were left out."""
    out: list[OrderOut] = []
    for price, level in side.best_first(depth):
        for order_id in level.orders:
            if len(out) == L3_MAX_ORDERS:
                return out, True
            order = book.orders[order_id]
            out.append(OrderOut(order_id, price, order.remaining, order.ts // 1_000_000))
    return out, False


def l3(book: SymbolBook, depth: int) -> L3Out:
    bids, more_bids = _orders(book, book.bids, depth)
    asks, more_asks = _orders(book, book.asks, depth)
    return L3Out(book.symbol, book.seq, bids, asks, more_bids or more_asks)


def trade_out(t: Trade) -> TradeOut:
    return TradeOut(t.trade_id, t.price, t.quantity, t.ts // 1_000_000, _SIDE[t.aggressor])  # type: ignore[arg-type]


def trades(book: SymbolBook, limit: int) -> TradesOut:
    newest = list(book.trades)[-limit:]
    return TradesOut(book.symbol, book.seq, [trade_out(t) for t in reversed(newest)])


def _bps(change: int, reference: int) -> int:
    """Change in basis points of the reference, truncated toward zero."""
    if not reference:
        return 0
    magnitude = abs(change) * 10_000 // reference
    return magnitude if change >= 0 else -magnitude


def summary_row(book: SymbolBook) -> SummaryRow:
    bid, ask = book.best(Side.BUY), book.best(Side.SELL)
    last = book.last_price or None
    change = (book.last_price - book.reference_price) if last else 0
    return SummaryRow(
        book.symbol,
        book.name,
        last,
        book.reference_price,
        change,
        _bps(change, book.reference_price),
        bid[0] if bid else None,
        bid[1] if bid else 0,
        ask[0] if ask else None,
        ask[1] if ask else 0,
        book.volume,
        book.day_high or None,
        book.day_low or None,
        _STATUS[book.status],  # type: ignore[arg-type]
        book.seq,
    )


def summary(books: list[SymbolBook], engine_seq: int) -> SummaryOut:
    return SummaryOut(engine_seq, [summary_row(b) for b in books])
