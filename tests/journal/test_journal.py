"""Journal files: framing, gap-free appends, segments, torn tails and real corruption."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exchange.journal import (
    Durability,
    JournalCorruptError,
    JournalReader,
    JournalWriter,
    recover,
)
from exchange.journal.record import HEADER_SIZE


def payload(seq: int) -> bytes:
    return (f"payload-{seq}-".encode() * (1 + seq % 7))[: 10 + seq % 300]


def write(directory: Path, batches: list[int], segment_bytes: int = 1 << 20, start: int = 1) -> int:
    """Append one record per entry of `batches` (its count); returns the next seq."""
    with JournalWriter(directory, segment_bytes=segment_bytes) as writer:
        seq = writer.next_seq if writer.next_seq != 1 else start
        for count in batches:
            writer.append(seq, count, payload(seq))
            seq += count
            writer.flush()
        return writer.next_seq


def read(directory: Path, from_seq: int = 1) -> list[tuple[int, int, bytes]]:
    return [
        (r.first_seq, r.count, r.payload) for r in JournalReader(directory, from_seq).read_all()
    ]


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.journal"))


def test_round_trip_and_reopen_continues(tmp_path: Path) -> None:
    assert write(tmp_path, [1, 3, 2]) == 7
    assert write(tmp_path, [5]) == 12
    assert read(tmp_path) == [
        (1, 1, payload(1)),
        (2, 3, payload(2)),
        (5, 2, payload(5)),
        (7, 5, payload(7)),
    ]
    assert [r[0] for r in read(tmp_path, from_seq=6)] == [5, 7]


def test_appends_must_be_gap_free(tmp_path: Path) -> None:
    with JournalWriter(tmp_path) as writer:
        writer.append(1, 2, b"a")
        with pytest.raises(ValueError):
            writer.append(4, 1, b"b")
        with pytest.raises(ValueError):
            writer.append(3, 0, b"b")


def test_segments_roll_and_reads_cross_them(tmp_path: Path) -> None:
    write(tmp_path, [1] * 200, segment_bytes=2_000)
    files = segments(tmp_path)
    assert len(files) > 5
    assert all(f.name == f"{int(f.stem):020d}.journal" for f in files)
    assert [r[0] for r in read(tmp_path)] == list(range(1, 201))
    assert [r[0] for r in read(tmp_path, from_seq=150)] == list(range(150, 201))
    assert write(tmp_path, [1], segment_bytes=2_000) == 202


def test_one_flush_can_span_a_segment_roll(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, segment_bytes=500) as writer:
        for seq in range(1, 101):
            writer.append(seq, 1, payload(seq))
        assert writer.flush() == 100
    assert len(segments(tmp_path)) > 3
    assert [r[0] for r in read(tmp_path)] == list(range(1, 101))


@pytest.mark.parametrize(
    "damage",
    ["mid_header", "mid_payload", "zeros_appended", "garbage_last_record", "zeros_after_header"],
)
def test_torn_tail_is_cut_off_and_appends_continue(tmp_path: Path, damage: str) -> None:
    write(tmp_path, [1, 1, 1, 1])
    (last,) = segments(tmp_path)
    data = last.read_bytes()
    sizes = [HEADER_SIZE + len(payload(s)) for s in range(1, 5)]
    good = sum(sizes[:3])
    if damage == "mid_header":
        last.write_bytes(data[: good + 7])
    elif damage == "mid_payload":
        last.write_bytes(data[: good + HEADER_SIZE + 3])
    elif damage == "zeros_appended":
        last.write_bytes(data + bytes(4096))
        good = len(data)
    elif damage == "garbage_last_record":
        last.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    else:
        last.write_bytes(data[: good + HEADER_SIZE] + bytes(50))
    expected = [1, 2, 3] if good == sum(sizes[:3]) else [1, 2, 3, 4]
    result = recover(tmp_path)
    assert result.next_seq == expected[-1] + 1
    assert last.stat().st_size == good
    assert [r[0] for r in read(tmp_path)] == expected
    assert write(tmp_path, [2]) == expected[-1] + 3


def test_corruption_in_the_middle_stops_recovery(tmp_path: Path) -> None:
    write(tmp_path, [1, 1, 1])
    (only,) = segments(tmp_path)
    data = bytearray(only.read_bytes())
    data[HEADER_SIZE + 2] ^= 0x01  # a payload byte of the first record
    only.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError, match=only.name):
        recover(tmp_path)
    with pytest.raises(JournalCorruptError, match="offset 0"):
        list(JournalReader(tmp_path).read_all())
    assert only.stat().st_size == len(data)  # nothing truncated


def test_damage_in_an_earlier_segment_stops_recovery(tmp_path: Path) -> None:
    write(tmp_path, [1] * 50, segment_bytes=1_000)
    first = segments(tmp_path)[0]
    data = first.read_bytes()
    first.write_bytes(data[:-5])  # torn, but not the last segment: real damage
    with pytest.raises(JournalCorruptError, match=first.name):
        recover(tmp_path)


def test_a_missing_or_renamed_segment_is_a_gap(tmp_path: Path) -> None:
    write(tmp_path, [1] * 50, segment_bytes=1_000)
    files = segments(tmp_path)
    files[1].unlink()
    with pytest.raises(JournalCorruptError, match="journal continues"):
        recover(tmp_path)


def test_a_segment_with_no_valid_record_is_removed(tmp_path: Path) -> None:
    write(tmp_path, [1] * 30, segment_bytes=1_000)
    files = segments(tmp_path)
    files[-1].write_bytes(bytes(10))
    result = recover(tmp_path)
    assert not files[-1].exists()
    assert result.next_seq == int(files[-1].stem)


def test_fsync_policy_writes_the_same_bytes(tmp_path: Path) -> None:
    for policy in Durability:
        directory = tmp_path / policy.value
        with JournalWriter(directory, policy) as writer:
            for seq in range(1, 11):
                writer.append(seq, 1, payload(seq))
            writer.flush()
    assert (tmp_path / "write").joinpath(segments(tmp_path / "write")[0].name).read_bytes() == (
        (tmp_path / "fsync").joinpath(segments(tmp_path / "fsync")[0].name).read_bytes()
    )


def test_tailing_reader_sees_each_seq_once_and_knows_its_lag(tmp_path: Path) -> None:
    reader = JournalReader(tmp_path)
    assert reader.poll() == [] and reader.lag() == 0
    writer = JournalWriter(tmp_path, segment_bytes=700)
    seen: list[int] = []
    seq = 1
    for round_ in range(30):
        for _ in range(round_ % 4):
            writer.append(seq, 2, payload(seq))
            seq += 2
        writer.flush()
        if round_ % 3 == 0:
            assert reader.lag() == seq - 1 - (reader.position - 1)
            seen.extend(r.first_seq for r in reader.poll())
    seen.extend(r.first_seq for r in reader.poll())
    writer.close()
    assert seen == list(range(1, seq, 2))
    assert reader.lag() == 0


def test_tailing_reader_waits_for_a_record_being_written(tmp_path: Path) -> None:
    write(tmp_path, [1, 1])
    (path,) = segments(tmp_path)
    reader = JournalReader(tmp_path)
    assert [r.first_seq for r in reader.poll()] == [1, 2]
    framed_len = HEADER_SIZE + len(payload(3))
    from exchange.journal.record import frame

    record = frame(3, 1, payload(3))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, record[:11])  # half a header
    assert reader.poll() == []
    os.write(fd, record[11:framed_len])
    os.close(fd)
    assert [r.first_seq for r in reader.poll()] == [3]


def test_tailing_from_the_middle(tmp_path: Path) -> None:
    write(tmp_path, [1] * 40, segment_bytes=600)
    reader = JournalReader(tmp_path, from_seq=25)
    assert [r.first_seq for r in reader.poll()] == list(range(25, 41))
    assert reader.position == 41
