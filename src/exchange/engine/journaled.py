"""The engine path: stamp -> apply -> journal -> durable -> results.

The core applies a batch before the journal write so that commands and the
events they produced go to disk as one record with one write (and one fsync
under the fsync policy). Nothing of the batch leaves this object before
`flush` returns, so "durable before acknowledged" holds: a crash before the
flush loses only results nobody has seen, and recovery rebuilds exactly the
state the journal describes.

A command the core cannot apply, or whose events cannot be encoded (the core
validates so that this cannot happen; this is the guard if it does), must not
kill the engine and then its standby with it: the batch is redone command by
command from the journaled state, and the poisoned command is refused, never
sequenced, so nothing of it is half-applied or journaled.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path

from exchange.core import Command, ExchangeCore
from exchange.core.events import Event
from exchange.engine.layout import DataDir
from exchange.engine.recovery import Recovered, rebuild
from exchange.engine.snapshot_format import encode_snapshot
from exchange.journal import Durability, ForkedSnapshotWriter, JournalWriter, SnapshotStore
from exchange.sequencer import Batch, Clock, Sequencer, encode_batch
from exchange.sequencer.batch import encode_events

log = logging.getLogger(__name__)

Replicate = Callable[[int, int, bytes], None]
"""Make a batch's record (first seq, count, payload) durable elsewhere before it is journaled."""


class NotReplicatedError(RuntimeError):
    """The batch could not be replicated: its results must never be acknowledged.

    The core has applied it in memory, so this `JournaledCore` is spent: the
    node rebuilds its state from the journal, which never holds the batch.
    """


SNAPSHOTS_KEPT = 3
"""Snapshots a node keeps (the newest): the leader's and the followers' alike."""


class JournaledCore:
    """The core, its sequencer, its journal and its snapshots, driven by one thread."""

    def __init__(
        self,
        root: Path | str,
        *,
        durability: Durability = Durability.WRITE,
        clock: Clock = time.time_ns,
        segment_bytes: int = 64 * 1024 * 1024,
        snapshots_kept: int = SNAPSHOTS_KEPT,
        state: Recovered | None = None,
        replicate: Replicate | None = None,
    ) -> None:
        """`state`: the state already rebuilt up to the journal's end (a standby taking over).

        `replicate`: in a cluster, the quorum write each batch must pass before
        it is journaled here and acknowledged; it raises to refuse the batch.
        """
        self.data = DataDir(Path(root)).create()
        self.recovered: Recovered = state if state is not None else rebuild(self.data.root)
        self.core: ExchangeCore = self.recovered.core
        self.sequencer = Sequencer(clock)
        self.sequencer.resume(
            self.recovered.last_seq, self.recovered.next_event_seq, self.recovered.last_ts
        )
        self.writer = JournalWriter(self.data.journal, durability, segment_bytes=segment_bytes)
        if self.writer.next_seq != self.sequencer.next_seq:
            raise RuntimeError(
                f"journal continues at seq {self.writer.next_seq} but the state is at "
                f"{self.sequencer.next_seq - 1}"
            )
        self.snapshots = SnapshotStore(self.data.snapshots)
        self.snapshot_writer = ForkedSnapshotWriter(self.snapshots)
        self.snapshots_kept = snapshots_kept
        self.replicate = replicate
        self.spent = False
        self.stage_ns: tuple[int, int, int] = (0, 0, 0)
        """The last batch's time (ns) in the core, in replication and in the journal."""
        self.refused: dict[int, str] = {}
        """The last batch's refused commands: index in the commands given -> why. The
        returned batch holds only the others, in order (usually all of them)."""

    @property
    def last_seq(self) -> int:
        return self.sequencer.next_seq - 1

    def process(self, commands: list[Command]) -> Batch:
        """Sequence, apply and durably journal one batch; returns it with its events."""
        return self.process_encoded(commands)[0]

    def process_encoded(self, commands: list[Command]) -> tuple[Batch, bytes]:
        """As `process`, also returning the journal record's payload (to publish as is)."""
        if self.spent:
            raise NotReplicatedError("an earlier batch was not replicated; rebuild the state")
        clock = time.perf_counter_ns
        started = clock()
        first_seq, ts = self.sequencer.stamp(commands)
        next_event_seq = self.sequencer.next_event_seq
        self.refused = {}
        try:
            apply = self.core.apply
            results = [apply(command, ts) for command in commands]
            batch = self.sequencer.seal(first_seq, ts, commands, results)
            payload = encode_batch(batch)
        except Exception:
            log.exception("batch at seq %d failed: redoing it command by command", first_seq)
            self.sequencer.next_event_seq = next_event_seq
            commands, results = self._isolate(commands, ts)
            self.sequencer.next_seq = first_seq + len(commands)
            batch = self.sequencer.seal(first_seq, ts, commands, results)
            if not commands:
                return batch, b""
            payload = encode_batch(batch)
        matched = clock()
        if self.replicate is not None:
            try:
                self.replicate(first_seq, len(commands), payload)
            except Exception as error:
                self.spent = True
                raise NotReplicatedError(f"batch at seq {first_seq} not replicated") from error
        replicated = clock()
        self.writer.append(first_seq, len(commands), payload)
        self.writer.flush()
        self.stage_ns = (matched - started, replicated - matched, clock() - replicated)
        return batch, payload

    def _isolate(self, commands: list[Command], ts: int) -> tuple[list[Command], list[list[Event]]]:
        """Redo a failed batch on the journaled state, one command at a time.

        Each command whose apply raises or whose events do not encode is
        refused (`self.refused`) and the state rebuilt without it. Slow (a
        rebuild per refusal), and meant never to run.
        """
        self._reload()
        kept: list[Command] = []
        results: list[list[Event]] = []
        for index, command in enumerate(commands):
            try:
                events = self.core.apply(command, ts)
                encode_events([events])
            except Exception as error:
                log.error("refused command %r: %s: %s", command, type(error).__name__, error)
                self.refused[index] = f"the engine could not apply the command ({error})"[:200]
                self._reload()
                for done in kept:
                    self.core.apply(done, ts)
                continue
            kept.append(command)
            results.append(events)
        return kept, results

    def _reload(self) -> None:
        """Rebuild the core from the snapshot and journal (the state after the last batch)."""
        self.recovered = rebuild(self.data.root)
        self.core = self.recovered.core

    def snapshot(self, *, fork: bool = True) -> bool:
        """Write a snapshot of the state after the last batch.

        With `fork`, a child process encodes and writes it from a copy-on-write
        image while this process keeps trading; returns False if one is still
        being written.
        """
        seq = self.last_seq
        core = self.core
        next_event_seq = self.sequencer.next_event_seq
        last_ts = self.sequencer.last_ts

        def payload() -> bytes:
            return encode_snapshot(core, seq, next_event_seq, last_ts)

        if fork:
            return self.snapshot_writer.start(seq, payload)
        self.snapshots.write(seq, payload())
        self.snapshots.prune(keep=self.snapshots_kept)
        return True

    def poll_snapshot(self) -> int | None:
        """Reap a finished snapshot child; keep only the newest `snapshots_kept`."""
        done = self.snapshot_writer.poll()
        if done is not None:
            self.snapshots.prune(keep=self.snapshots_kept)
        return done

    def close(self) -> None:
        if self.snapshot_writer.wait() is not None:
            self.snapshots.prune(keep=self.snapshots_kept)
        self.writer.close()

    def __enter__(self) -> "JournaledCore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
