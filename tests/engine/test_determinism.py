"""Replaying the journal, from the start or from any snapshot, reproduces everything."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec

from exchange.core import Deposit, OpenAccount, OpenAccountV1, state_hash
from exchange.engine import JournaledCore, rebuild
from exchange.journal import JournalReader
from exchange.sequencer.batch import decode_batch, encode_events
from tests.engine.workload import random_batches, setup_batch


def counter_clock() -> object:
    state = {"t": 1_700_000_000_000_000_000}

    def clock() -> int:
        state["t"] += 1_000
        return state["t"]

    return clock


def run_session(root: Path, seed: int, batches: int, snapshot_every: int) -> tuple[str, list]:
    """Drive a journaled core; returns its final hash and every batch's events."""
    produced = []
    with JournaledCore(root, clock=counter_clock()) as engine:  # type: ignore[arg-type]
        produced.append(engine.process(setup_batch()).events)
        for i, batch in enumerate(random_batches(seed, batches)):
            produced.append(engine.process(batch).events)
            if snapshot_every and i % snapshot_every == snapshot_every - 1:
                assert engine.snapshot(fork=(i // snapshot_every) % 2 == 0)
                engine.snapshot_writer.wait()
        return state_hash(engine.core), produced


def test_replay_from_start_and_from_every_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "primary"
    live_hash, produced = run_session(root, seed=7, batches=300, snapshot_every=60)
    journaled = [decode_batch(r.payload).events for r in JournalReader(root / "journal").read_all()]
    assert encode_events(journaled) == encode_events(produced)  # the journal holds what was sent

    from_start = rebuild(root, use_snapshot=False, verify=True)
    assert from_start.mismatched_batches == []
    assert state_hash(from_start.core) == live_hash

    snapshots = sorted(p.name for p in (root / "snapshots").glob("snapshot-*.snap"))
    assert len(snapshots) >= 2
    for keep in snapshots:
        copy = tmp_path / f"from-{keep}"
        shutil.copytree(root, copy)
        for other in snapshots:
            if other != keep:
                (copy / "snapshots" / other).unlink()
        state = rebuild(copy, verify=True)
        assert state.snapshot_seq is not None and state.snapshot_seq > 0
        assert state.mismatched_batches == []
        assert state_hash(state.core) == live_hash


def test_two_runs_of_the_same_commands_are_byte_identical(tmp_path: Path) -> None:
    hash_a, events_a = run_session(tmp_path / "a", seed=11, batches=150, snapshot_every=0)
    hash_b, events_b = run_session(tmp_path / "b", seed=11, batches=150, snapshot_every=0)
    assert hash_a == hash_b
    assert encode_events(events_a) == encode_events(events_b)
    files_a = sorted((tmp_path / "a" / "journal").iterdir())
    files_b = sorted((tmp_path / "b" / "journal").iterdir())
    assert [f.read_bytes() for f in files_a] == [f.read_bytes() for f in files_b]


def test_restart_continues_from_the_same_state(tmp_path: Path) -> None:
    root = tmp_path / "data"
    live_hash, _ = run_session(root, seed=3, batches=100, snapshot_every=40)
    with JournaledCore(root, clock=counter_clock()) as engine:  # type: ignore[arg-type]
        assert state_hash(engine.core) == live_hash
        last = engine.last_seq
        engine.process(random_batches(99, 1)[0])
        assert engine.last_seq > last
        after = state_hash(engine.core)
    assert state_hash(rebuild(root, use_snapshot=False).core) == after


def test_only_the_newest_snapshots_are_kept(tmp_path: Path) -> None:
    with JournaledCore(tmp_path, clock=counter_clock(), snapshots_kept=2) as engine:  # type: ignore[arg-type]
        engine.process(setup_batch())
        for batch in random_batches(5, 6):
            engine.process(batch)
            engine.snapshot(fork=False)
        seqs = engine.snapshots.list()
    assert len(seqs) == 2 and seqs[-1] == engine.last_seq


def test_m1_a_journal_from_before_m1_replays_byte_for_byte(tmp_path: Path) -> None:
    """Caller-chosen account ids, as journals before review M1 hold them (tag 3, events
    [110, id]), replay to the same events; ids the engine gives later come after them."""
    root = tmp_path / "old"
    with JournaledCore(root) as engine:
        engine.process(
            [
                OpenAccountV1(account=7),
                Deposit(account=7, asset="IRR", amount=500, reference="cash-7"),
                OpenAccountV1(account=3),
            ]
        )
        engine.process([OpenAccount(owner="after-m1")])
    old, _ = [r.payload for r in JournalReader(root / "journal").read_all()]
    _, _, _, commands, events = msgspec.msgpack.decode(old)
    assert (commands[0], commands[2]) == ([3, 7], [3, 3])
    assert (events[0], events[2]) == ([[110, 7]], [[110, 3]])
    replay = rebuild(root, use_snapshot=False, verify=True)
    assert replay.mismatched_batches == []
    assert list(replay.core.accounts) == [7, 3, 8] and replay.core.accounts[7].cash == 500
    assert replay.core.next_account_id == 9 and replay.core.owners == {"after-m1": 8}
