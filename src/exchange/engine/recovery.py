"""Rebuild the engine's state: newest valid snapshot + replay of the journal after it."""

from dataclasses import dataclass, field
from pathlib import Path

from exchange.core import ExchangeCore
from exchange.engine.layout import DataDir
from exchange.engine.snapshot_format import decode_snapshot
from exchange.journal import JournalCorruptError, JournalReader, SnapshotStore
from exchange.sequencer.batch import BatchHead, decode_head, encode_events


@dataclass
class Recovered:
    core: ExchangeCore
    last_seq: int = 0
    next_event_seq: int = 1
    last_ts: int = 0
    snapshot_seq: int | None = None
    batches: int = 0
    commands: int = 0
    events: int = 0
    mismatched_batches: list[int] = field(default_factory=list)
    """First seqs of batches whose regenerated events differ from the journal's (verify only)."""


def rebuild(
    root: Path | str,
    *,
    use_snapshot: bool = True,
    verify: bool = False,
    until_seq: int | None = None,
) -> Recovered:
    """Replay `root`'s journal onto its newest snapshot (or onto an empty core).

    With `verify`, every batch's events are regenerated and compared byte for
    byte with the events the journal holds: the determinism check. With
    `until_seq`, replay stops after the batch that ends at that seq.
    """
    data = DataDir(Path(root))
    state = Recovered(core=ExchangeCore())
    if use_snapshot and data.snapshots.is_dir():
        latest = SnapshotStore(data.snapshots).latest()
        if latest is not None and (until_seq is None or latest[0] <= until_seq):
            snapshot, core = decode_snapshot(latest[1])
            state = Recovered(
                core=core,
                last_seq=snapshot.seq,
                next_event_seq=snapshot.next_event_seq,
                last_ts=snapshot.last_ts,
                snapshot_seq=snapshot.seq,
            )
    if not data.journal.is_dir():
        return state
    apply = state.core.apply
    for record in JournalReader(data.journal, from_seq=state.last_seq + 1).read_all():
        if until_seq is not None and record.first_seq > until_seq:
            break
        head = decode_head(record.payload)
        if (
            head.first_seq != record.first_seq
            or len(head.commands) != record.count
            or record.first_seq != state.last_seq + 1
        ):
            raise JournalCorruptError(
                f"batch at seq {record.first_seq} does not continue the state at seq "
                f"{state.last_seq} (header says {head.first_seq}, {len(head.commands)} commands)"
            )
        if head.first_event_seq != state.next_event_seq:
            raise JournalCorruptError(
                f"batch at seq {record.first_seq} starts events at {head.first_event_seq}, "
                f"expected {state.next_event_seq}"
            )
        ts = head.ts
        results = [apply(command, ts) for command in head.commands]
        if verify and encode_events(results) != bytes(head.events):
            state.mismatched_batches.append(record.first_seq)
        produced = sum(len(events) for events in results)
        state.last_seq = record.first_seq + record.count - 1
        state.next_event_seq += produced
        state.last_ts = ts
        state.batches += 1
        state.commands += record.count
        state.events += produced
    return state


def follow_batch(state: Recovered, head: BatchHead) -> None:
    """Apply a journaled batch's commands with its timestamp (a follower in lockstep)."""
    apply = state.core.apply
    produced = 0
    for command in head.commands:
        produced += len(apply(command, head.ts))
    state.last_seq = head.first_seq + len(head.commands) - 1
    state.next_event_seq += produced
    state.last_ts = head.ts
