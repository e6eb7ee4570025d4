"""Snapshots: whole-state images written atomically, optionally by a forked child.

A snapshot is an optimization; the journal is the truth. A damaged snapshot
is skipped (with a warning) and recovery falls back to an older one or to
the start of the journal.
"""

import logging
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

from exchange.journal.segments import fsync_directory

MAGIC = b"EXSNAP01"
HEADER = struct.Struct("<8sQQI")
log = logging.getLogger(__name__)


def _name(seq: int) -> str:
    return f"snapshot-{seq:020d}.snap"


class SnapshotStore:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def write(self, seq: int, payload: bytes) -> Path:
        """Write atomically: temp file, fsync, rename, fsync the directory."""
        header = HEADER.pack(MAGIC, seq, len(payload), zlib.crc32(payload))
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".snapshot-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            final = self.directory / _name(seq)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_directory(self.directory)
        return final

    def _candidates(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob("snapshot-*.snap"):
            stem = path.name[len("snapshot-") : -len(".snap")]
            if stem.isdigit():
                found.append((int(stem), path))
        return sorted(found)

    def read(self, seq: int) -> bytes | None:
        """The payload of the snapshot at `seq`, or None if it is missing or damaged."""
        path = self.directory / _name(seq)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        problem = None
        if len(data) < HEADER.size:
            problem = "truncated header"
        else:
            magic, stored_seq, length, crc = HEADER.unpack_from(data)
            payload = data[HEADER.size :]
            if magic != MAGIC:
                problem = "bad magic"
            elif stored_seq != seq:
                problem = f"holds seq {stored_seq}"
            elif len(payload) != length:
                problem = f"length {len(payload)} != {length}"
            elif zlib.crc32(payload) != crc:
                problem = "checksum mismatch"
            else:
                return payload
        log.warning("snapshot %s is damaged (%s); skipping it", path, problem)
        return None

    def latest(self) -> tuple[int, bytes] | None:
        """The newest snapshot that validates."""
        for seq, _path in reversed(self._candidates()):
            payload = self.read(seq)
            if payload is not None:
                return seq, payload
        return None

    def list(self) -> list[int]:
        return [seq for seq, _ in self._candidates() if self.read(seq) is not None]

    def prune(self, keep: int = 3) -> None:
        candidates = self._candidates()
        for _seq, path in candidates[: max(0, len(candidates) - keep)]:
            path.unlink(missing_ok=True)


class ForkedSnapshotWriter:
    """Writes a snapshot from a forked child, so the parent keeps working.

    The child sees a copy-on-write image of the parent's memory at fork
    time: the parent may mutate its state at once without affecting the
    snapshot. At most one child runs at a time.
    """

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self._pid: int | None = None
        self._seq = 0

    @property
    def busy(self) -> bool:
        return self._pid is not None

    def start(self, seq: int, encode: Callable[[], bytes]) -> bool:
        """Fork a child that encodes and writes; False if one is still running."""
        if self._pid is not None:
            self.poll()
            if self._pid is not None:  # still writing
                return False
        pid = os.fork()
        if pid == 0:  # the child: never return into the parent's code
            code = 1
            try:
                self.store.write(seq, encode())
                code = 0
            finally:
                os._exit(code)
        self._pid, self._seq = pid, seq
        return True

    def poll(self) -> int | None:
        """The seq of a snapshot that just finished, without blocking."""
        if self._pid is None:
            return None
        pid, status = os.waitpid(self._pid, os.WNOHANG)
        if pid == 0:
            return None
        return self._finished(status)

    def wait(self) -> int | None:
        """Block until the running child (if any) is done."""
        if self._pid is None:
            return None
        _pid, status = os.waitpid(self._pid, 0)
        return self._finished(status)

    def _finished(self, status: int) -> int | None:
        self._pid = None
        if os.waitstatus_to_exitcode(status) != 0:
            log.error("snapshot at seq %d failed (status %d)", self._seq, status)
            return None
        return self._seq

    def write_now(self, seq: int, payload: bytes) -> Path:
        """In-process write, for platforms without fork and for tests."""
        return self.store.write(seq, payload)
