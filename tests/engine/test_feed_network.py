"""A follower on another machine: one account shard's slices, gaps filled over the network.

A real engine process publishes slices for the shards followed (XPUB) and
serves its journal's ranges (journal_service.py); the feed under test has
no journal directory at all, loses one published message in three, and
must still yield every slice of its shard exactly once, as the journal's
batches cut to that shard.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from exchange.core import Side
from exchange.engine.client import EngineClient
from exchange.engine.feed import BatchFeed
from exchange.engine.journal_service import JournalRangeClient
from exchange.journal import JournalReader
from exchange.sequencer import Slice, cut, decode_batch
from tests.engine.test_feed import Lossy
from tests.engine.test_server import EngineProcess, order, setup_accounts

SHARDS = 2


def journal_slices(data_dir: Path, shard: int) -> list[Slice]:
    reader = JournalReader(data_dir / "journal")
    return [
        cut(decode_batch(record.payload), SHARDS, {shard})[shard] for record in reader.read_all()
    ]


def test_a_shard_feed_without_a_journal_directory_fills_its_gaps_over_the_network(
    tmp_path: Path,
) -> None:
    engine = EngineProcess(tmp_path / "data", engine__account_shards=SHARDS)
    engine.start()
    service = engine.config.engine.journal_service
    assert service

    async def scenario() -> tuple[list[Slice], int, int]:
        client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.3, deadline=30)
        feed: BatchFeed | None = None
        try:
            await setup_accounts(client)  # before the feed exists: caught up over the network
            remote = JournalRangeClient(service, keys=engine.keys("feed"))
            feed = BatchFeed(
                engine.publish, remote, keys=engine.keys("feed"), idle_poll=0.2, shard=1,
                shards=SHARDS,
            )  # fmt: skip
            lossy = Lossy(feed)  # loses one published slice in three
            seen: list[Slice] = []

            async def consume() -> None:
                assert feed is not None
                async for part in feed.batches():
                    assert isinstance(part, Slice)
                    seen.append(part)

            task = asyncio.create_task(consume())
            for i in range(60):
                account = 1 + i % 2  # both shards trade; this feed follows account 1's
                await client.submit(order(account, f"s{i}", Side.SELL, 5_500 + 10 * (i % 5)))
            last = (await client.submit(order(2, "b", Side.BUY, 5_600, 1_000))).seq
            for _ in range(300):
                if seen and seen[-1].end > last:
                    break
                await asyncio.sleep(0.05)
            task.cancel()
            return seen, feed.from_journal, lossy.received
        finally:
            if feed is not None:
                feed.close()
            await client.close()

    try:
        seen, from_journal, published = asyncio.run(scenario())
    finally:
        engine.kill()
    assert published > 0, "the engine published slices of the followed shard"
    assert from_journal > 0, "gaps were filled over the network"
    expected = journal_slices(tmp_path / "data", 1)
    assert seen == expected
    accounts = {getattr(e, "account", 0) for part in seen for e in part.events}
    assert accounts == {0, 1}, "only account 1's events, and those of no account"
