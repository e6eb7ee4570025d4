"""A follower node: applies the replicated log to its own state and journal, in sequence order.

Each entry's record goes into the local journal byte for byte (the journals
of all nodes are identical prefixes of one log), its commands are applied
with the batch's timestamp (the core is deterministic, so the state is the
leader's), and the record is published on the node's own PUB socket, so
gateways subscribed to every node keep their feed through a takeover.
Every `snapshot_every` commands it writes a snapshot, as the leader does, so
a node restarts (or takes over) from its own recent state.

Nothing is journaled or applied before the entry's MAC is checked against
the cluster's log key (review C2): an entry without one, or with a wrong
one, raises `ForgedEntryError` and this node goes no further in the log.
"""

import logging

import zmq

from exchange.cluster.log import Entry, ReplicatedLog, authentic
from exchange.engine.curve import CurveServer
from exchange.engine.journaled import SNAPSHOTS_KEPT
from exchange.engine.layout import DataDir
from exchange.engine.publisher import FeedPublisher
from exchange.engine.recovery import Recovered, follow_batch, rebuild
from exchange.engine.server import EngineConfig
from exchange.engine.snapshot_format import encode_snapshot
from exchange.journal import ForkedSnapshotWriter, JournalWriter, SnapshotStore
from exchange.sequencer import decode_head

log = logging.getLogger(__name__)


class BehindWindowError(RuntimeError):
    """The log no longer holds what this node lacks: it copies that from a peer (restore.py)."""


class ForgedEntryError(RuntimeError):
    """A log entry not signed with the cluster's log key: never journaled, never applied."""


class Follower:
    def __init__(
        self, config: EngineConfig, replicated: ReplicatedLog, *, batch: int = 100
    ) -> None:
        self.config = config
        self.replicated = replicated
        self.batch = batch
        self.data = DataDir(config.data_dir).create()
        self.state: Recovered = rebuild(self.data.root)
        self.writer = JournalWriter(self.data.journal, config.durability)
        if self.writer.next_seq != self.state.last_seq + 1:
            raise RuntimeError(
                f"journal ends at {self.writer.last_seq}, state at {self.state.last_seq}"
            )
        self.snapshots = SnapshotStore(self.data.snapshots)
        self.snapshot_writer = ForkedSnapshotWriter(self.snapshots)
        self._since_snapshot = 0
        self.context = zmq.Context()
        self.curve = CurveServer(self.context, config.keys.ensure())  # as the engine's (C1)
        self.publisher = FeedPublisher(
            self.context, self.curve, config.publish, config.account_shards
        )

    @property
    def next_seq(self) -> int:
        return self.state.last_seq + 1

    def poll(self, *, complete: bool = False) -> int:
        """Apply the entries the log has beyond our state; how many that was.

        `complete`: a linearizable read (a new leader catching up); otherwise
        the nearest etcd member answers, perhaps a little behind.
        """
        entries = self.replicated.read(self.next_seq, limit=self.batch, serializable=not complete)
        for entry in entries:
            self.apply(entry)
        return len(entries)

    def apply(self, entry: Entry) -> None:
        if not authentic(self.replicated.signing_key, entry):
            log.error(
                "refused the log entry at seq %d (epoch %d): %s MAC; not journaled, not applied",
                entry.first_seq,
                entry.epoch,
                "wrong" if entry.mac else "no",
            )
            raise ForgedEntryError(f"the log entry at seq {entry.first_seq} is not signed")
        if entry.first_seq != self.next_seq:
            raise BehindWindowError(
                f"this node needs seq {self.next_seq} but the replicated log continues at "
                f"{entry.first_seq}"
            )
        head = decode_head(entry.payload)
        if head.first_seq != entry.first_seq or len(head.commands) != entry.count:
            raise RuntimeError(f"entry at seq {entry.first_seq} does not match its record")
        self.writer.append(entry.first_seq, entry.count, entry.payload)
        self.writer.flush()
        follow_batch(self.state, head)
        self.publisher.publish(entry.payload)
        self._since_snapshot += entry.count
        if self._since_snapshot >= self.config.snapshot_every and self._snapshot():
            self._since_snapshot = 0
        if self.snapshot_writer.poll() is not None:
            self.snapshots.prune(keep=SNAPSHOTS_KEPT)

    def _snapshot(self) -> bool:
        """A snapshot of the state after the last entry, written by a forked child (as the
        leader's): a follower restarts from it, not from the journal's start."""
        state = self.state
        seq, core, next_event_seq, last_ts = (
            state.last_seq,
            state.core,
            state.next_event_seq,
            state.last_ts,
        )
        return self.snapshot_writer.start(
            seq, lambda: encode_snapshot(core, seq, next_event_seq, last_ts)
        )

    def close(self) -> None:
        """Free the journal and the PUB endpoint (the engine server binds them next)."""
        if self.snapshot_writer.wait() is not None:
            self.snapshots.prune(keep=SNAPSHOTS_KEPT)
        self.writer.close()
        self.publisher.close()
        self.curve.stop()
        self.context.term()
