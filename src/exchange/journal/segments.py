"""Segment files: `<first seq, 20 digits>.journal`, scanned and validated record by record."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from exchange.journal.errors import JournalCorruptError
from exchange.journal.record import HEADER, HEADER_SIZE, MAX_PAYLOAD, Record, checksum

SUFFIX = ".journal"
log = logging.getLogger(__name__)


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """Segments in sequence order, by the first sequence number in their names."""
    found = []
    for path in directory.glob(f"*{SUFFIX}"):
        stem = path.name[: -len(SUFFIX)]
        if len(stem) != 20 or not stem.isdigit():
            raise JournalCorruptError(f"unexpected file in journal: {path}")
        found.append((int(stem), path))
    found.sort()
    return found


@dataclass
class Scan:
    """What a validating scan of one segment found."""

    records: list[Record]
    good_bytes: int
    """Offset after the last valid record."""
    problem: str | None
    """Why the scan stopped before the end of the file, if it did."""
    tail_only: bool
    """Whether everything after good_bytes is a torn tail (safe to truncate)."""
    next_seq: int | None
    """The sequence number after the last valid record (None if none was read)."""


def _read_record(data: memoryview, offset: int) -> tuple[Record | None, str | None]:
    """The record at offset, or why there is none."""
    if len(data) - offset < HEADER_SIZE:
        return None, "incomplete header"
    length, crc, first_seq, count = HEADER.unpack_from(data, offset)
    if length > MAX_PAYLOAD or count < 1:
        return None, f"implausible header (length {length}, count {count})"
    end = offset + HEADER_SIZE + length
    if end > len(data):
        return None, "record runs past the end of the file"
    payload = data[offset + HEADER_SIZE : end]
    if checksum(first_seq, count, payload) != crc:
        return None, "checksum mismatch"
    return Record(first_seq, count, bytes(payload)), None


def scan_bytes(data: bytes, expected_seq: int | None, keep: bool = True) -> Scan:
    """Validate records from the start of `data`; stop at the first bad one.

    A bad record is a torn tail when it is the last thing in the file: it
    runs to (or past) the end, or only zero bytes follow it.
    """
    view = memoryview(data)
    records: list[Record] = []
    offset = 0
    while offset < len(data):
        record, problem = _read_record(view, offset)
        if record is not None and expected_seq is not None and record.first_seq != expected_seq:
            problem = f"sequence gap: record starts at {record.first_seq}, expected {expected_seq}"
            return Scan(records, offset, problem, False, expected_seq)
        if record is None:
            assert problem is not None
            tail_only = _is_tail(view, offset)
            return Scan(records, offset, problem, tail_only, expected_seq)
        if keep:
            records.append(record)
        expected_seq = record.first_seq + record.count
        offset += HEADER_SIZE + len(record.payload)
    return Scan(records, offset, None, True, expected_seq)


def _is_tail(view: memoryview, offset: int) -> bool:
    if len(view) - offset < HEADER_SIZE:
        return True
    length = HEADER.unpack_from(view, offset)[0]
    if offset + HEADER_SIZE + length >= len(view):
        return True
    rest = view[offset + HEADER_SIZE + length :]
    return not any(rest)


def read_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
