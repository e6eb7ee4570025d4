"""The hub's fan-out: gap-checkable updates, and slow subscribers cut off, not buffered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from exchange.engine.feed import BatchFeed
from exchange.engine.ports import free_ports
from exchange.marketdata.books import MarketBooks
from exchange.marketdata.hub import Hub
from tests.curve import keys
from tests.marketdata.test_books import session


def test_updates_chain_by_prev_seq_and_a_slow_subscriber_is_dropped(tmp_path: Path) -> None:
    async def scenario() -> None:
        (port,) = free_ports(1)
        feed = BatchFeed(f"tcp://127.0.0.1:{port}", tmp_path / "j", keys=keys(tmp_path, "feed"))
        hub = Hub(feed, MarketBooks(),
                  queue_capacity=3)  # fmt: skip
        _, sealed = session(4, 60)
        try:
            hub._apply(sealed[0])  # the listing and the accounts
            symbol = next(iter(hub.books.books))
            fast, slow = hub.new_subscriber(), hub.new_subscriber()
            snapshot = json.loads(hub.subscribe(fast, "trades", symbol))
            hub.subscribe(slow, "trades", symbol)
            last = snapshot["seq"]
            updates = 0
            for batch in sealed[1:]:
                hub._apply(batch)
                while not fast.queue.empty():  # the fast one keeps up
                    message = json.loads(fast.queue.get_nowait())
                    assert message["prevSeq"] == last and message["seq"] > last
                    last = message["seq"]
                    updates += 1
            assert updates > 3
            assert slow.closed.is_set() and hub.dropped == 1
            assert slow.queue.qsize() == 3  # bounded: never more than its capacity
            assert slow not in hub.subscribers.get(("trades", symbol), set())
            assert not fast.closed.is_set()
            hub.remove(fast)
            assert ("trades", symbol) not in hub.subscribers
        finally:
            await hub.close()

    asyncio.run(scenario())
