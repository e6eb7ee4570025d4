"""Keeps the books current from the engine's feed and fans updates out to WebSocket clients.

Per symbol and channel (l1, l2, trades) each update message carries `seq`
(the symbol's change counter now) and `prevSeq` (the `seq` of the previous
message on that channel for that symbol); a snapshot carries the `seq` the
next update's `prevSeq` will name. A client that sees `prevSeq` differ from
the last `seq` it has missed something and subscribes again.

Each message is encoded once and the same text goes to every subscriber.
A subscriber's queue is bounded: one that falls behind is dropped (its
`closed` event set), never allowed to grow the server's memory.
"""

import asyncio
from typing import Any, Final, Literal

import msgspec

from exchange.core import Side
from exchange.engine.feed import BatchFeed, FeedTask, Part
from exchange.marketdata import render
from exchange.marketdata.books import Change, MarketBooks, SymbolBook
from exchange.sequencer import Batch

Channel = Literal["l1", "l2", "trades"]
CHANNELS: Final = ("l1", "l2", "trades")
_encoder = msgspec.json.Encoder()


class Message(msgspec.Struct, rename="camel", omit_defaults=True):
    type: str
    channel: str
    symbol: str
    seq: int
    prev_seq: int | None = None
    data: Any = None


class Subscriber:
    __slots__ = ("closed", "keys", "queue")

    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(capacity)
        self.closed = asyncio.Event()
        self.keys: set[tuple[str, str]] = set()


class Hub:
    def __init__(self, feed: BatchFeed, books: MarketBooks, *, queue_capacity: int = 1_000) -> None:
        self.feed = feed
        self.books = books
        self.queue_capacity = queue_capacity
        self.subscribers: dict[tuple[str, str], set[Subscriber]] = {}
        self.channel_seq: dict[tuple[str, str], int] = {}
        self._last_l1: dict[str, Any] = {}
        self.dropped = 0
        self.messages_sent = 0
        self._snapshots: dict[tuple[str, str], tuple[int, int, str]] = {}
        """(channel, symbol) -> (book seq, channel seq, the encoded snapshot), the latest only"""
        self._following = FeedTask(feed, self._apply, "market data")

    # ------------------------------------------------------------ following

    async def start(self) -> None:
        await self._following.start()

    @property
    def healthy(self) -> bool:
        return self._following.healthy

    def _apply(self, batch: Part) -> None:
        assert type(batch) is Batch, "market data follows whole batches"
        for symbol, change in self.books.apply(batch).items():
            self._publish(self.books.books[symbol], change)

    def _publish(self, book: SymbolBook, change: Change) -> None:
        symbol = book.symbol
        if change.levels:
            self._emit("l2", book, lambda: self._l2_delta(book, change))
        if change.trades:
            self._emit(
                "trades", book, lambda: [render.trade_out(t) for t in reversed(change.trades)]
            )
        key = (book.best(Side.BUY), book.best(Side.SELL), book.last_price,
               book.reference_price, book.status)  # fmt: skip
        if self._last_l1.get(symbol) != key:
            self._last_l1[symbol] = key
            self._emit("l1", book, lambda: render.l1(book))  # built only for subscribers

    @staticmethod
    def _l2_delta(book: SymbolBook, change: Change) -> dict[str, list[render.LevelOut]]:
        """The touched levels as they are now; quantity 0 means the level is gone."""
        delta: dict[str, list[render.LevelOut]] = {"bids": [], "asks": []}
        for side, price in sorted(
            change.levels, key=lambda k: (k[0], -k[1] if k[0] is Side.BUY else k[1])
        ):
            level = book.side(side).levels.get(price)
            out = (
                render.LevelOut(price, level.quantity, len(level.orders))
                if level
                else render.LevelOut(price, 0, 0)
            )
            delta["bids" if side is Side.BUY else "asks"].append(out)
        return delta

    def _emit(self, channel: str, book: SymbolBook, data: Any) -> None:
        key = (channel, book.symbol)
        previous = self.channel_seq.get(key, 0)
        self.channel_seq[key] = book.seq
        subscribers = self.subscribers.get(key)
        if not subscribers:
            return  # nobody listens: nothing is encoded
        text = _encoder.encode(
            Message("update", channel, book.symbol, book.seq, previous, data())
        ).decode()
        for subscriber in list(subscribers):
            try:
                subscriber.queue.put_nowait(text)
                self.messages_sent += 1
            except asyncio.QueueFull:
                self.remove(subscriber)
                subscriber.closed.set()
                self.dropped += 1

    # ---------------------------------------------------------- subscribers

    def new_subscriber(self) -> Subscriber:
        return Subscriber(self.queue_capacity)

    def subscribe(self, subscriber: Subscriber, channel: str, symbol: str) -> str:
        """Register, and return the snapshot to send first (same step: nothing falls between).

        A snapshot is bounded (L2: the best `SNAPSHOT_DEPTH` levels a side) and
        built once per book change, however many subscribe (security review M7).
        """
        book = self.books.books[symbol]
        key = (channel, symbol)
        seq = self.channel_seq.get(key, 0)
        self.subscribers.setdefault(key, set()).add(subscriber)
        subscriber.keys.add(key)
        cached = self._snapshots.get(key)
        if cached is not None and cached[0] == book.seq and cached[1] == seq:
            return cached[2]
        data: Any
        if channel == "l2":
            data = render.l2(book, render.SNAPSHOT_DEPTH)
        elif channel == "l1":
            data = render.l1(book)
        else:
            data = render.trades(book, render.TRADE_LIMITS[-1])
        text = _encoder.encode(Message("snapshot", channel, symbol, seq, None, data)).decode()
        self._snapshots[key] = (book.seq, seq, text)
        return text

    def unsubscribe(self, subscriber: Subscriber, channel: str, symbol: str) -> None:
        key = (channel, symbol)
        subscriber.keys.discard(key)
        subscribers = self.subscribers.get(key)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self.subscribers[key]

    def remove(self, subscriber: Subscriber) -> None:
        """Take a subscriber out of every channel (it fell behind, or it left)."""
        for channel, symbol in list(subscriber.keys):
            self.unsubscribe(subscriber, channel, symbol)

    async def close(self) -> None:
        await self._following.close()
