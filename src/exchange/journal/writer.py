"""The journal writer: stage records, then make them durable with one write (+ one fsync)."""

import enum
import os
from pathlib import Path
from types import TracebackType

from exchange.journal.record import frame
from exchange.journal.recovery import recover
from exchange.journal.segments import fsync_directory, segment_name


class Durability(enum.Enum):
    WRITE = "write"
    """os.write to the file: survives a crash of the process."""
    FSYNC = "fsync"
    """write + fdatasync once per flush (group commit): survives a crash of the machine."""


_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT


class JournalWriter:
    """Appends gap-free records to segmented files in `directory`.

    Opening runs `recover`: the journal is validated and a torn tail cut off
    before anything is appended.
    """

    def __init__(
        self,
        directory: Path | str,
        durability: Durability = Durability.WRITE,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        first_seq: int = 1,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # the order flow (M4)
        self.durability = durability
        self.segment_bytes = segment_bytes
        recovered = recover(self.directory, first_seq)
        self.recovered = recovered
        self._next_seq = recovered.next_seq
        self.durable_seq = recovered.next_seq - 1
        self._staged: list[tuple[int, bytes]] = []
        self._fd = -1
        self._size = 0
        if recovered.segments:
            path = recovered.segments[-1][1]
            self._fd = os.open(path, _FLAGS, 0o600)  # the order flow: owner only (M4)
            self._size = os.fstat(self._fd).st_size

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    def append(self, first_seq: int, count: int, payload: bytes) -> None:
        """Stage a record; it is durable only after `flush`."""
        if first_seq != self._next_seq:
            raise ValueError(
                f"record starts at seq {first_seq}, the journal is at {self._next_seq}"
            )
        self._staged.append((first_seq, frame(first_seq, count, payload)))
        self._next_seq = first_seq + count

    def flush(self) -> int:
        """Write everything staged (one write per segment touched) and make it durable."""
        if not self._staged:
            return self.durable_seq
        chunk: list[bytes] = []
        chunk_size = 0
        for first_seq, data in self._staged:
            if self._fd < 0 or self._size + chunk_size >= self.segment_bytes:
                self._write(chunk)
                chunk, chunk_size = [], 0
                self._roll(first_seq)
            chunk.append(data)
            chunk_size += len(data)
        self._write(chunk)
        if self.durability is Durability.FSYNC:
            os.fdatasync(self._fd)
        self._staged.clear()
        self.durable_seq = self._next_seq - 1
        return self.durable_seq

    def _write(self, chunk: list[bytes]) -> None:
        if not chunk:
            return
        data = memoryview(b"".join(chunk))
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
            self._size += written

    def _roll(self, first_seq: int) -> None:
        """Close the current segment (durably under fsync) and start a new one."""
        if self._fd >= 0:
            if self.durability is Durability.FSYNC:
                os.fdatasync(self._fd)
            os.close(self._fd)
        path = self.directory / segment_name(first_seq)
        self._fd = os.open(path, _FLAGS, 0o600)  # the order flow: owner only (M4)
        self._size = 0
        if self.durability is Durability.FSYNC:
            fsync_directory(self.directory)

    def close(self) -> None:
        if self._staged:
            self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "JournalWriter":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
