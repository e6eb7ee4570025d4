"""Public market data projected from the engine's events: L1, L2, L3, the tape, day statistics.

Pure: `apply(batch)` folds one sequenced batch in and says which symbols
changed and how (the L2 levels it touched, its new trades). Resting orders
are followed from their events alone: a limit DAY/GTC order enters the book
when accepted, fills take its remaining quantity down (each Fill carries
the order's leaves), cancel and expiry take it out. Market, IOC and FOK
orders never rest: their remainders are canceled in the same command. Since
a batch is applied whole before anyone reads, the transient state of an
aggressor that is added and then matched within one command never shows.

Nothing here names an account: L3 shows order ids, sides, prices,
quantities and times only.
"""

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from exchange.core import InstrumentStatus, OrderType, Side, TimeInForce
from exchange.core.events import (
    Fill,
    InstrumentAdded,
    InstrumentStatusChanged,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    ReferencePriceChanged,
    SessionOpened,
)
from exchange.sequencer import Batch
from exchange.views.projection import Projection

TAPE_LENGTH = 200
_RESTS = (TimeInForce.DAY, TimeInForce.GTC)


class Resting:
    __slots__ = ("order_id", "price", "remaining", "side", "ts")

    def __init__(self, order_id: int, side: Side, price: int, remaining: int, ts: int) -> None:
        self.order_id = order_id
        self.side = side
        self.price = price
        self.remaining = remaining
        self.ts = ts


class Level:
    """One price: total quantity, and its orders in time priority (ids, insertion-ordered)."""

    __slots__ = ("orders", "quantity")

    def __init__(self) -> None:
        self.quantity = 0
        self.orders: dict[int, None] = {}


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: int
    price: int
    quantity: int
    ts: int
    aggressor: Side


class BookSide:
    """One side of a book: levels by price, and the prices sorted best first."""

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, side: Side) -> None:
        self.sign = -1 if side is Side.BUY else 1  # bids: highest first
        self.levels: dict[int, Level] = {}
        self.keys: SortedList = SortedList()

    def level(self, price: int) -> Level:
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level()
            self.keys.add(price * self.sign)
        return level

    def drop_if_empty(self, price: int) -> None:
        level = self.levels.get(price)
        if level is not None and not level.orders:
            del self.levels[price]
            self.keys.remove(price * self.sign)

    def best_first(self, depth: int | None = None) -> Iterator[tuple[int, Level]]:
        sign = self.sign
        keys = self.keys if depth is None else self.keys.islice(0, depth)
        for key in keys:
            price = key * sign
            yield price, self.levels[price]


@dataclass
class SymbolBook:
    symbol: str
    name: str
    tick_size: int
    reference_price: int
    low_price: int
    high_price: int
    status: InstrumentStatus = InstrumentStatus.ACTIVE
    bids: BookSide = field(default_factory=lambda: BookSide(Side.BUY))
    asks: BookSide = field(default_factory=lambda: BookSide(Side.SELL))
    orders: dict[int, Resting] = field(default_factory=dict)
    trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=TAPE_LENGTH))
    last_price: int = 0
    volume: int = 0
    """Shares traded this trading day."""
    turnover: int = 0
    """Rial traded this trading day."""
    day_high: int = 0
    day_low: int = 0
    seq: int = 0
    """Counts this symbol's changes (one per batch that changed it): gaps show a missed update."""

    def side(self, side: Side) -> BookSide:
        return self.bids if side is Side.BUY else self.asks

    def best(self, side: Side) -> tuple[int, int, int] | None:
        """(price, quantity, orders) of the best level, or None."""
        for price, level in self.side(side).best_first(1):
            return price, level.quantity, len(level.orders)
        return None


@dataclass
class Change:
    """What one batch changed in one symbol."""

    levels: set[tuple[Side, int]] = field(default_factory=set)
    trades: list[Trade] = field(default_factory=list)
    status: bool = False


class MarketBooks(Projection):
    def __init__(self) -> None:
        super().__init__()
        self.books: dict[str, SymbolBook] = {}
        self.where: dict[int, str] = {}
        """Resting order id -> symbol."""
        self.trading_day = 0
        self._changes: dict[str, Change] = {}

    def apply(self, batch: Batch) -> dict[str, Change]:
        """Fold in the next batch; what changed, by symbol (each changed symbol's seq moves)."""
        self._changes = {}
        self.fold(batch)
        changes = self._changes
        for symbol in changes:
            self.books[symbol].seq += 1
        return changes

    def _change(self, symbol: str) -> Change:
        change = self._changes.get(symbol)
        if change is None:
            change = self._changes[symbol] = Change()
        return change

    # ------------------------------------------------------------- handlers

    def on_order_accepted(self, e: OrderAccepted, seq: int) -> None:
        if e.order_type is not OrderType.LIMIT or e.time_in_force not in _RESTS:
            return
        book = self.books.get(e.symbol)
        if book is None:
            return
        book.orders[e.order_id] = Resting(e.order_id, e.side, e.price, e.quantity, e.ts)
        level = book.side(e.side).level(e.price)
        level.orders[e.order_id] = None
        level.quantity += e.quantity
        self.where[e.order_id] = e.symbol
        self._change(e.symbol).levels.add((e.side, e.price))

    def _reduce(self, book: SymbolBook, order: Resting, remaining: int) -> None:
        side = book.side(order.side)
        level = side.levels[order.price]
        level.quantity -= order.remaining - remaining
        order.remaining = remaining
        if not remaining:
            del level.orders[order.order_id]
            del book.orders[order.order_id]
            del self.where[order.order_id]
            side.drop_if_empty(order.price)
        self._change(book.symbol).levels.add((order.side, order.price))

    def on_fill(self, e: Fill, seq: int) -> None:
        book = self.books.get(e.symbol)
        if book is None:
            return
        order = book.orders.get(e.order_id)
        if order is not None:
            self._reduce(book, order, e.leaves_quantity)
        if e.aggressor:
            trade = Trade(e.trade_id, e.price, e.quantity, e.ts, e.side)
            book.trades.append(trade)
            book.last_price = e.price
            book.volume += e.quantity
            book.turnover += e.price * e.quantity
            book.day_high = max(book.day_high, e.price)
            book.day_low = e.price if not book.day_low else min(book.day_low, e.price)
            self._change(e.symbol).trades.append(trade)

    def on_order_canceled(self, e: OrderCanceled, seq: int) -> None:
        self._ended(e)

    def on_order_expired(self, e: OrderExpired, seq: int) -> None:
        self._ended(e)

    def _ended(self, e: OrderCanceled | OrderExpired) -> None:
        symbol = self.where.get(e.order_id)
        if symbol is None:
            return
        book = self.books[symbol]
        self._reduce(book, book.orders[e.order_id], 0)

    def on_instrument_added(self, e: InstrumentAdded, seq: int) -> None:
        self.books[e.symbol] = SymbolBook(
            e.symbol, e.name, e.tick_size, e.reference_price, e.low_price, e.high_price
        )
        self._change(e.symbol).status = True

    def on_instrument_status_changed(self, e: InstrumentStatusChanged, seq: int) -> None:
        self.books[e.symbol].status = e.status
        self._change(e.symbol).status = True

    def on_reference_price_changed(self, e: ReferencePriceChanged, seq: int) -> None:
        book = self.books[e.symbol]
        book.reference_price = e.reference_price
        book.low_price = e.low_price
        book.high_price = e.high_price
        self._change(e.symbol).status = True

    def on_session_opened(self, e: SessionOpened, seq: int) -> None:
        if e.trading_day == self.trading_day:
            return
        self.trading_day = e.trading_day
        for book in self.books.values():
            if book.volume or book.day_high:
                book.volume = book.turnover = book.day_high = book.day_low = 0
                self._change(book.symbol).status = True
