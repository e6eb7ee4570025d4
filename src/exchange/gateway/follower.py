"""Keeps the gateway's view current from the engine's feed and fans reports out to streams.

One asyncio task: every batch from the `BatchFeed` goes into the view, its
execution reports go to the `ReportFanout` (bounded queues per WebSocket
subscriber, cut off when behind; shared with the FIX acceptor's code), and
requests waiting to read their own writes are released.
"""

import asyncio
import heapq
import itertools

from exchange.engine.feed import BatchFeed, FeedTask, Part
from exchange.views.fanout import ReportFanout, Subscriber
from exchange.views.order_view import ExchangeView


class Follower:
    def __init__(self, feed: BatchFeed, view: ExchangeView, *, queue_capacity: int = 1_000) -> None:
        self.feed = feed
        self.view = view
        self.fanout = ReportFanout(view, queue_capacity=queue_capacity)
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._tie = itertools.count()
        self._following = FeedTask(feed, self._apply, "the order view")

    async def start(self) -> None:
        """Read the journal as it stands, then follow the feed in a task."""
        await self._following.start()

    @property
    def healthy(self) -> bool:
        return self._following.healthy

    @property
    def dropped_subscribers(self) -> int:
        return self.fanout.dropped

    def _apply(self, batch: Part) -> None:
        self.fanout.publish(self.view.apply(batch))
        self._release(self.view.next_event_seq)

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
        return self.fanout.subscribe((account,))

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.fanout.unsubscribe(subscriber)

    async def close(self) -> None:
        await self._following.close()
