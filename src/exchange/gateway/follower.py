"""Keeps the gateway's view current from the engine's feed and fans reports out to streams.

One asyncio task: every batch from the `BatchFeed` goes into the view, its
execution reports go to the live WebSocket subscribers of their accounts,
and requests waiting to read their own writes are released.

A subscriber gets a bounded queue. One that cannot keep up is cut off
(`closed` is set) instead of letting the gateway's memory grow; it
reconnects with the last sequence number it saw and gets the rest.
"""

import asyncio
import heapq
import itertools

from exchange.engine.feed import BatchFeed, FeedTask
from exchange.sequencer import Batch
from exchange.views.order_view import ExchangeView, Report


class Subscriber:
    __slots__ = ("account", "closed", "queue")

    def __init__(self, account: int, capacity: int) -> None:
        self.account = account
        self.queue: asyncio.Queue[Report] = asyncio.Queue(capacity)
        self.closed = asyncio.Event()
        """Set when the subscriber fell `capacity` reports behind and was dropped."""


class Follower:
    def __init__(self, feed: BatchFeed, view: ExchangeView, *, queue_capacity: int = 1_000) -> None:
        self.feed = feed
        self.view = view
        self.queue_capacity = queue_capacity
        self.subscribers: dict[int, set[Subscriber]] = {}
        self.dropped_subscribers = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._tie = itertools.count()
        self._following = FeedTask(feed, self._apply, "the order view")

    async def start(self) -> None:
        """Read the journal as it stands, then follow the feed in a task."""
        await self._following.start()

    @property
    def healthy(self) -> bool:
        return self._following.healthy

    def _apply(self, batch: Batch) -> None:
        for account, report in self.view.apply(batch):
            subscribers = self.subscribers.get(account)
            if subscribers:
                self._push(subscribers, report)
        self._release(self.view.next_event_seq)

    def _push(self, subscribers: set[Subscriber], report: Report) -> None:
        for subscriber in list(subscribers):
            try:
                subscriber.queue.put_nowait(report)
            except asyncio.QueueFull:
                subscribers.discard(subscriber)
                subscriber.closed.set()
                self.dropped_subscribers += 1

    def _release(self, next_event_seq: int) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] < next_event_seq:
            _, _, future = heapq.heappop(waiters)
            if not future.done():
                future.set_result(None)

    async def wait_for(self, event_seq: int, timeout: float) -> bool:
        """Wait until the view has applied event `event_seq`; False on timeout."""
        if event_seq < self.view.next_event_seq:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (event_seq, next(self._tie), future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        return True

    def subscribe(self, account: int) -> Subscriber:
        subscriber = Subscriber(account, self.queue_capacity)
        self.subscribers.setdefault(account, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self.subscribers.get(subscriber.account)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self.subscribers[subscriber.account]

    async def close(self) -> None:
        await self._following.close()
