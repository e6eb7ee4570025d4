"""Reading the journal: whole (validating, like recovery) or tailing a live writer."""

import os
from collections.abc import Iterator
from pathlib import Path

from exchange.journal.errors import JournalCorruptError
from exchange.journal.record import HEADER, HEADER_SIZE, MAX_PAYLOAD, Record, checksum
from exchange.journal.segments import list_segments, read_file, scan_bytes


class JournalReader:
    """Reads records in order, starting with the record that contains `from_seq`.

    Continuity is checked on every record: the reader never skips a sequence
    number. While tailing, an incomplete record at the end of the newest
    segment is a write in progress, not damage: it is read on a later poll.
    """

    def __init__(self, directory: Path | str, from_seq: int = 1) -> None:
        self.directory = Path(directory)
        self.from_seq = from_seq
        self.position = from_seq
        """The next sequence number this reader will return."""
        self._segment_start: int | None = None
        self._path: Path | None = None
        self._offset = 0
        self._head_path: Path | None = None
        self._head_offset = 0
        self._head_seq = from_seq - 1

    # ------------------------------------------------------------ whole file

    def read_all(self) -> Iterator[Record]:
        """Every record from `from_seq` on, of a journal no one is writing.

        Raises JournalCorruptError on damage before the tail of the last
        segment; stops quietly at a torn tail (recovery would cut it off).
        """
        segments = list_segments(self.directory)
        expected: int | None = None
        for index, (start, path) in enumerate(segments):
            nxt = segments[index + 1][0] if index + 1 < len(segments) else None
            if nxt is not None and nxt <= self.from_seq:
                expected = nxt
                continue
            if expected is not None and start != expected:
                raise JournalCorruptError(f"{path}: starts at seq {start}, expected {expected}")
            scan = scan_bytes(read_file(path), start)
            if scan.problem is not None and (nxt is not None or not scan.tail_only):
                raise JournalCorruptError(f"{path} at offset {scan.good_bytes}: {scan.problem}")
            for record in scan.records:
                if record.first_seq + record.count <= self.from_seq:
                    continue
                self.position = record.first_seq + record.count
                yield record
            expected = scan.next_seq if scan.next_seq is not None else start

    # --------------------------------------------------------------- tailing

    def poll(self, max_records: int | None = None) -> list[Record]:
        """Complete records appended since the last call (possibly none)."""
        out: list[Record] = []
        while max_records is None or len(out) < max_records:
            if self._path is None and not self._open_segment_for(self.position):
                break
            assert self._path is not None
            record = self._next_in_segment()
            if record is not None:
                if record.first_seq + record.count <= self.position:
                    continue  # before from_seq, in the first segment
                if record.first_seq > self.position:
                    raise JournalCorruptError(
                        f"{self._path} at offset {self._offset}: gap, record starts at "
                        f"{record.first_seq}, expected {self.position}"
                    )
                self.position = record.first_seq + record.count
                out.append(record)
                continue
            # End of what is complete in this segment: move on only if a newer one exists.
            newer = [s for s, _ in list_segments(self.directory) if s > (self._segment_start or 0)]
            if not newer:
                break
            if newer[0] != self.position:
                if self._segment_has_more():
                    raise JournalCorruptError(
                        f"{self._path}: damaged record before the next segment"
                    )
                raise JournalCorruptError(
                    f"segment {newer[0]} does not continue at seq {self.position}"
                )
            self._path = None
        return out

    def _open_segment_for(self, seq: int) -> bool:
        segments = list_segments(self.directory)
        candidates = [(s, p) for s, p in segments if s <= seq]
        if not candidates:
            if segments and segments[0][0] > seq:
                raise JournalCorruptError(
                    f"journal starts at seq {segments[0][0]}, after the requested {seq}"
                )
            return False
        self._segment_start, self._path = candidates[-1]
        self._offset = 0
        return True

    def _next_in_segment(self) -> Record | None:
        assert self._path is not None
        with open(self._path, "rb") as f:
            f.seek(self._offset)
            header = f.read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                return None
            length, crc, first_seq, count = HEADER.unpack(header)
            if length > MAX_PAYLOAD or count < 1:
                return None
            payload = f.read(length)
        if len(payload) < length or checksum(first_seq, count, payload) != crc:
            return None  # still being written (or damaged: detected when a newer segment exists)
        self._offset += HEADER_SIZE + length
        return Record(first_seq, count, payload)

    def _segment_has_more(self) -> bool:
        assert self._path is not None
        return os.path.getsize(self._path) > self._offset

    # ------------------------------------------------------------------ lag

    def head_seq(self) -> int:
        """The last complete sequence number in the journal now (headers only)."""
        segments = list_segments(self.directory)
        if not segments:
            return self._head_seq
        start, path = segments[-1]
        if path != self._head_path:
            self._head_path, self._head_offset = path, 0
            self._head_seq = max(self._head_seq, start - 1)
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            while self._head_offset + HEADER_SIZE <= size:
                f.seek(self._head_offset)
                length, _crc, first_seq, count = HEADER.unpack(f.read(HEADER_SIZE))
                end = self._head_offset + HEADER_SIZE + length
                if end > size or count < 1:
                    break
                self._head_seq = first_seq + count - 1
                self._head_offset = end
        return self._head_seq

    def lag(self) -> int:
        """How many sequence numbers the reader is behind the journal's head."""
        return max(0, self.head_seq() - (self.position - 1))
