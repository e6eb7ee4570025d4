"""Snapshots: atomic files, damaged ones skipped, forked writers see the pre-fork state."""

from __future__ import annotations

from pathlib import Path

from exchange.journal import ForkedSnapshotWriter, SnapshotStore


def test_latest_skips_a_damaged_snapshot_and_prune_keeps_the_newest(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    for seq in (10, 20, 30, 40):
        store.write(seq, f"state at {seq}".encode() * 100)
    assert store.latest() == (40, b"state at 40" * 100)
    newest = tmp_path / f"snapshot-{40:020d}.snap"
    data = bytearray(newest.read_bytes())
    data[-1] ^= 0xFF
    newest.write_bytes(bytes(data))
    assert store.latest() == (30, b"state at 30" * 100)
    assert store.list() == [10, 20, 30]
    store.prune(keep=2)
    assert sorted(p.name for p in tmp_path.glob("*.snap")) == [
        f"snapshot-{30:020d}.snap",
        f"snapshot-{40:020d}.snap",
    ]
    assert not list(tmp_path.glob(".snapshot-*"))  # no temp files left behind


def test_truncated_snapshot_is_skipped(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.write(5, b"x" * 1000)
    store.write(6, b"y" * 1000)
    path = tmp_path / f"snapshot-{6:020d}.snap"
    path.write_bytes(path.read_bytes()[:500])
    assert store.latest() == (5, b"x" * 1000)


def test_forked_writer_captures_the_state_at_fork_time(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    writer = ForkedSnapshotWriter(store)
    state = {"orders": list(range(100_000))}

    def encode() -> bytes:
        return repr([*sorted(state["orders"])[:5], len(state["orders"])]).encode()

    assert writer.start(7, encode)
    state["orders"] = [-1]  # the parent moves on immediately
    assert writer.wait() == 7
    assert store.latest() == (7, repr([0, 1, 2, 3, 4, 100_000]).encode())


def test_only_one_forked_writer_at_a_time_and_failures_are_reported(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    writer = ForkedSnapshotWriter(store)

    def slow() -> bytes:
        import time

        time.sleep(0.3)
        return b"slow"

    assert writer.start(1, slow)
    assert not writer.start(2, lambda: b"fast")
    assert writer.wait() == 1

    def broken() -> bytes:
        raise RuntimeError("encode failed")

    assert writer.start(3, broken)
    assert writer.wait() is None
    assert store.list() == [1]
