"""The batch feed (PUB backed by the journal) and the engine's account query, on a real engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from exchange.core import Side
from exchange.engine.client import EngineClient
from exchange.engine.feed import BatchFeed
from exchange.journal import JournalReader
from exchange.sequencer import decode_batch
from tests.engine.test_server import EngineProcess, order, setup_accounts


def journal_batches(data_dir: Path) -> list[tuple[int, int]]:
    reader = JournalReader(data_dir / "journal")
    return [
        (b.first_seq, len(b.commands))
        for b in map(decode_batch, (r.payload for r in reader.read_all()))
    ]


class Lossy:
    """The feed's socket loses every third published message: the journal must fill them."""

    def __init__(self, feed: BatchFeed) -> None:
        self.received = 0
        receive = feed._socket.recv_multipart

        async def lossy(*args: object, **kwargs: object) -> list[bytes]:
            while True:
                frames: list[bytes] = await receive(*args, **kwargs)  # type: ignore[arg-type]
                self.received += 1
                if self.received % 3:
                    return frames

        feed._socket.recv_multipart = lossy  # type: ignore[method-assign]


def test_feed_catches_up_late_and_fills_dropped_batches_from_the_journal(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "data")
    engine.start()

    async def scenario() -> list[tuple[int, int]]:
        client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.3, deadline=30)
        feed: BatchFeed | None = None
        try:
            await setup_accounts(client)  # before the feed exists: it must catch up
            journal = tmp_path / "data" / "journal"
            feed = BatchFeed(engine.publish, journal, keys=engine.keys("feed"), idle_poll=0.2)
            Lossy(feed)
            seen: list[tuple[int, int]] = []

            async def consume() -> None:
                assert feed is not None
                async for batch in feed.batches():
                    seen.append((batch.first_seq, len(batch.commands)))

            task = asyncio.create_task(consume())
            for i in range(60):
                await client.submit(order(1, f"s{i}", Side.SELL, 5_500 + 10 * (i % 5)))
            last = (await client.submit(order(2, "b", Side.BUY, 5_600, 1_000))).seq
            for _ in range(200):
                if seen and seen[-1][0] + seen[-1][1] > last:
                    break
                await asyncio.sleep(0.05)
            task.cancel()
            assert feed.from_journal > 0
            state = await client.account(2)
            assert state is not None and state.cash < 10**12
            assert {p.symbol for p in state.positions} == {"FOOLAD"}
            assert await client.account(999) is None
            return seen
        finally:
            if feed is not None:
                feed.close()
            await client.close()

    try:
        seen = asyncio.run(scenario())
    finally:
        engine.kill()
    # Every batch exactly once, in order, the same as the journal holds.
    assert seen == journal_batches(tmp_path / "data")
