"""Every sequenced batch, in order, without gaps: the engine's PUB feed backed by its journal.

The PUB socket is fast but may drop (high-water mark, restarts, a late
subscriber); the journal is complete because the engine writes a batch
there before publishing it. So a follower subscribes first, catches up from
the journal, then takes published batches, and whenever the next published
batch does not continue where it stands (or nothing arrives for a while)
it reads the missing records from the journal. Every consumer of engine
output (gateway views, market data, reporter) can stand on this.

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
from exchange.engine.curve import ClientKeys
from exchange.engine.protocol import TOPIC_BATCH
from exchange.journal import JournalReader
from exchange.sequencer import Batch, decode_batch, decode_span

log = logging.getLogger(__name__)


class BatchFeed:
    """Yields `Batch`es from `next_seq` on, each exactly once and in sequence order."""

    def __init__(
        self,
        publish: str,
        journal: Path,
        *,
        keys: ClientKeys,
        next_seq: int = 1,
        idle_poll: float = 0.5,
        max_records: int = 1_000,
    ) -> None:
        self.publish = publish
        self.journal = journal
        self.next_seq = next_seq
        """The first command sequence number not yet yielded."""
        self.idle_poll = idle_poll
        self.max_records = max_records
        self.from_journal = 0
        """Batches that came from the journal rather than the feed (catch-up and gaps)."""
        self._reader: JournalReader | None = None
        self._context = zmq.asyncio.Context()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVHWM, 100_000)
        self._socket.setsockopt(zmq.RECONNECT_IVL, 50)
        self._socket.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
        self._socket.setsockopt(zmq.SUBSCRIBE, TOPIC_BATCH)
        keys.apply(self._socket)  # CURVE: only the engine's batches, only to known keys (C1)
        for address in split_endpoints(publish):
            self._socket.connect(address)

    def _read_journal(self) -> list[Batch]:
        """Complete records from `next_seq` on that are in the journal now (blocking I/O)."""
        if not self.journal.exists():
            return []
        if self._reader is None or self._reader.position != self.next_seq:
            self._reader = JournalReader(self.journal, from_seq=self.next_seq)
        return [decode_batch(r.payload) for r in self._reader.poll(self.max_records)]

    async def catch_up(self) -> AsyncIterator[Batch]:
        """The batches in the journal now, from `next_seq` on (file reads in a thread)."""
        while True:
            batches = await asyncio.to_thread(self._read_journal)
            if not batches:
                return
            for batch in batches:
                if batch.first_seq + len(batch.commands) <= self.next_seq:
                    continue
                self.next_seq = batch.first_seq + len(batch.commands)
                self.from_journal += 1
                yield batch

    async def batches(self) -> AsyncIterator[Batch]:
        async for batch in self.catch_up():
            yield batch
        socket = self._socket
        while True:
            try:
                _topic, payload = await asyncio.wait_for(
                    socket.recv_multipart(copy=True), self.idle_poll
                )
            except TimeoutError:
                async for batch in self.catch_up():  # a dropped tail, or a quiet engine
                    yield batch
                continue
            first_seq, count = decode_span(payload)
            if first_seq + count <= self.next_seq:
                continue  # already had it (from the journal, or another node's copy)
            batch = decode_batch(payload)
            end = first_seq + count
            if batch.first_seq > self.next_seq:
                log.info("feed gap at seq %d: reading the journal", self.next_seq)
                async for missing in self.catch_up():
                    yield missing
                if end <= self.next_seq:
                    continue
                if batch.first_seq != self.next_seq:
                    log.warning("batch %d not in the journal yet; waiting", batch.first_seq)
                    continue  # the next idle poll picks it up from the journal
            self.next_seq = end
            yield batch

    def close(self) -> None:
        with contextlib.suppress(zmq.ZMQError):
            self._socket.close(linger=0)
        self._context.destroy(linger=0)


class FeedTask:
    """Applies every batch of a feed: the journal as it stands first (awaited), then live.

    The consumers of engine output (the gateway's view, market data) share
    this lifecycle: catch up before serving, follow in a task, report
    whether they still follow, stop cleanly.
    """

    def __init__(self, feed: BatchFeed, apply: Callable[[Batch], None], name: str) -> None:
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
