"""One symbol's order book: price levels in price-time (FIFO) priority.

Each side keeps a sorted list of level keys whose best entry is at the end
(bids by price, asks by negated price), so the best level is read and popped
in O(1) and a new level is inserted with one bisect. A level is a deque in
arrival order. Cancel is O(1): the order is marked final and its quantity
leaves the level at once; the dead entry is dropped lazily when it reaches
the front, or when a level's dead entries outnumber its live ones.
"""

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator

from exchange.core.enums import Side
from exchange.core.order import Order


class Level:
    """Orders resting at one price, oldest first, with live totals kept current."""

    __slots__ = ("count", "dead", "orders", "price", "quantity")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[Order] = deque()
        self.quantity = 0
        self.count = 0
        self.dead = 0

    def live_orders(self) -> Iterator[Order]:
        for order in self.orders:
            if order.leaves:
                yield order


class BookSide:
    """One side of a book. Keys are sorted ascending; the best level is keys[-1]."""

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, side: Side) -> None:
        self.sign = 1 if side is Side.BUY else -1
        self.keys: list[int] = []
        self.levels: dict[int, Level] = {}

    def best(self) -> Level | None:
        if self.keys:
            return self.levels[self.keys[-1] * self.sign]
        return None

    def add(self, order: Order) -> None:
        """Rest an order at the back of its price level."""
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level(price)
            insort(self.keys, price * self.sign)
        level.orders.append(order)
        level.quantity += order.leaves
        level.count += 1

    def remove_level(self, level: Level) -> None:
        """Drop an emptied level; the best one is popped in O(1)."""
        key = level.price * self.sign
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]
        del self.levels[level.price]

    def unlink(self, order: Order, quantity: int) -> None:
        """Take a cancelled or expired order's remaining quantity out of its level."""
        level = self.levels[order.price]
        level.quantity -= quantity
        level.count -= 1
        if level.count == 0:
            self.remove_level(level)
            return
        level.dead += 1
        if level.dead > 16 and level.dead > level.count:
            level.orders = deque(o for o in level.orders if o.leaves)
            level.dead = 0

    def levels_best_first(self) -> Iterator[Level]:
        sign = self.sign
        levels = self.levels
        for key in reversed(self.keys):
            yield levels[key * sign]

    def __len__(self) -> int:
        return len(self.keys)


class Book:
    """Both sides of one symbol's book."""

    __slots__ = ("asks", "bids", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = BookSide(Side.BUY)
        self.asks = BookSide(Side.SELL)

    def side(self, side: Side) -> BookSide:
        return self.bids if side is Side.BUY else self.asks

    def best_bid(self) -> int | None:
        level = self.bids.best()
        return None if level is None else level.price

    def best_ask(self) -> int | None:
        level = self.asks.best()
        return None if level is None else level.price

    def is_crossed(self) -> bool:
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid >= ask
