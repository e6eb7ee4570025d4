"""Every sequenced batch, in order, without gaps: the engine's PUB feed backed by its journal.

The PUB socket is fast but may drop (high-water mark, restarts, a late
subscriber); the journal is complete because the engine writes a batch
there before publishing it. So a follower subscribes first, catches up from
the journal, then takes published batches, and whenever the next published
batch does not continue where it stands (or nothing arrives for a while)
it reads the missing records from the journal. Every consumer of engine
output (gateway views, market data, reporter) can stand on this.

The journal is a local directory (a follower on the engine's machine) or
an engine node's journal service over the network (journal_service.py: a
follower on another machine). A follower of one account shard subscribes
to that shard's slices (sequencer/slices.py) instead of whole batches, and
cuts what it reads from the journal the same way: what it applies is the
same either way.

`publish` may list several endpoints, comma-separated: every node of a
cluster publishes each batch it applies, leader and followers alike, so the
feed goes on through a takeover; copies of a batch already had are skipped.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import zmq
import zmq.asyncio

from exchange.engine.client import split_endpoints
from exchange.engine.curve import ClientKeys, KeyDirectory
from exchange.engine.journal_service import JournalRangeClient, JournalUnavailableError
from exchange.engine.protocol import TOPIC_BATCH
from exchange.journal import JournalReader
from exchange.sequencer import Batch, Slice, cut, decode_batch, decode_slice, decode_span, topic
from exchange.sequencer.slices import decode_slice_span

log = logging.getLogger(__name__)

Part = Batch | Slice
"""What a feed yields: whole batches, or one account shard's slices of them."""


class LocalJournal:
    """Journal records from a directory on this machine (file reads in a thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader: JournalReader | None = None

    def _read(self, from_seq: int, limit: int) -> list[bytes]:
        if not self.path.exists():
            return []
        if self._reader is None or self._reader.position != from_seq:
            self._reader = JournalReader(self.path, from_seq=from_seq)
        return [record.payload for record in self._reader.poll(limit)]

    async def read(self, from_seq: int, limit: int) -> list[bytes]:
        return await asyncio.to_thread(self._read, from_seq, limit)

    def close(self) -> None:
        pass


class ShardMismatchError(RuntimeError):
    """The engine cuts accounts into another number of shards than this follower expects."""


class BatchFeed:
    """Yields batches (or one shard's slices) from `next_seq` on, each once and in order."""

    def __init__(
        self,
        publish: str,
        journal: Path | JournalRangeClient,
        *,
        keys: ClientKeys,
        next_seq: int = 1,
        idle_poll: float = 0.5,
        max_records: int = 1_000,
        shard: int | None = None,
        shards: int = 0,
    ) -> None:
        """`journal`: a local directory, or a client of engine nodes' journal services.
        `shard` of `shards`: follow only the accounts with account % shards == shard."""
        if shard is not None and not 0 <= shard < shards:
            raise ValueError(f"shard {shard} is not one of {shards} shards")
        self.publish = publish
        self.journal = LocalJournal(journal) if isinstance(journal, Path) else journal
        self.next_seq = next_seq
        """The first command sequence number not yet yielded."""
        self.idle_poll = idle_poll
        self.max_records = max_records
        self.shard = shard
        self.shards = shards
        self.from_journal = 0
        """Batches that came from the journal rather than the feed (catch-up and gaps)."""
        self._context = zmq.asyncio.Context()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVHWM, 100_000)
        self._socket.setsockopt(zmq.RECONNECT_IVL, 50)
        self._socket.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
        self._socket.setsockopt(zmq.SUBSCRIBE, TOPIC_BATCH if shard is None else topic(shard))
        keys.apply(self._socket)  # CURVE: only the engine's batches, only to known keys (C1)
        for address in split_endpoints(publish):
            self._socket.connect(address)

    def _cut(self, batch: Batch) -> Part:
        if self.shard is None:
            return batch
        return cut(batch, self.shards, {self.shard})[self.shard]

    def _span(self, payload: bytes) -> tuple[int, int]:
        if self.shard is None:
            return decode_span(payload)
        first_seq, count, shards = decode_slice_span(payload)
        if shards != self.shards:
            raise ShardMismatchError(
                f"the engine cuts accounts into {shards} shards, this follower expects "
                f"{self.shards}: set the same engine.account_shards everywhere"
            )
        return first_seq, count

    async def catch_up(self) -> AsyncIterator[Part]:
        """The batches in the journal now, from `next_seq` on."""
        while True:
            payloads = await self.journal.read(self.next_seq, self.max_records)
            if not payloads:
                return
            for payload in payloads:
                batch = decode_batch(payload)
                if batch.first_seq + len(batch.commands) <= self.next_seq:
                    continue
                self.next_seq = batch.first_seq + len(batch.commands)
                self.from_journal += 1
                yield self._cut(batch)

    async def _fill(self) -> AsyncIterator[Part]:
        """`catch_up`, except that a journal service that does not answer is retried later."""
        try:
            async for part in self.catch_up():
                yield part
        except JournalUnavailableError as error:
            log.warning("feed at seq %d: %s; trying again", self.next_seq, error)

    async def batches(self) -> AsyncIterator[Part]:
        async for part in self.catch_up():
            yield part
        socket = self._socket
        decode = decode_batch if self.shard is None else decode_slice
        while True:
            try:
                _topic, payload = await asyncio.wait_for(
                    socket.recv_multipart(copy=True), self.idle_poll
                )
            except TimeoutError:
                async for part in self._fill():  # a dropped tail, or a quiet engine
                    yield part
                continue
            first_seq, count = self._span(payload)
            end = first_seq + count
            if end <= self.next_seq:
                continue  # already had it (from the journal, or another node's copy)
            if first_seq > self.next_seq:
                log.info("feed gap at seq %d: reading the journal", self.next_seq)
                async for missing in self._fill():
                    yield missing
                if end <= self.next_seq:
                    continue
                if first_seq != self.next_seq:
                    log.warning("batch %d not in the journal yet; waiting", first_seq)
                    continue  # the next idle poll picks it up from the journal
            part = decode(payload)
            self.next_seq = end
            yield part

    def close(self) -> None:
        with contextlib.suppress(zmq.ZMQError):
            self._socket.close(linger=0)
        self._context.destroy(linger=0)
        self.journal.close()


def open_feed(
    publish: str,
    journal: Path,
    keys: KeyDirectory,
    *,
    journal_service: str = "",
    shard: int | None = None,
    shards: int = 0,
) -> BatchFeed:
    """A consumer's feed with the feed key: gaps filled from the local `journal`, or from
    engine nodes' `journal_service` (comma-separated endpoints) when one is given."""
    client = keys.client("feed")
    source: Path | JournalRangeClient = (
        JournalRangeClient(journal_service, keys=client) if journal_service else journal
    )
    return BatchFeed(publish, source, keys=client, shard=shard, shards=shards)


class FeedTask:
    """Applies every batch of a feed: the journal as it stands first (awaited), then live.

    The consumers of engine output (the gateway's view, market data) share
    this lifecycle: catch up before serving, follow in a task, report
    whether they still follow, stop cleanly.
    """

    def __init__(self, feed: BatchFeed, apply: Callable[[Part], None], name: str) -> None:
        self.feed = feed
        self.apply = apply
        self.name = name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async for batch in self.feed.catch_up():
            self.apply(batch)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            async for batch in self.feed.batches():
                self.apply(batch)
        except Exception:
            log.exception("%s stopped following the engine", self.name)
            raise

    async def ended(self) -> None:
        """Returns when following has stopped (it only stops by failing or being closed)."""
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._task)

    @property
    def healthy(self) -> bool:
        """False once the task has ended (it only ends by failing or being closed)."""
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # a failure was logged
                await self._task
        self.feed.close()
