"""The primary's exclusive role on one machine: an OS file lock in the data directory.

Whoever holds `engine.lock` sequences and writes the journal; everyone
else may only read. The kernel releases the lock when the holder dies,
however it dies (SIGKILL included), which is what lets a standby take over
without ever having two writers.
"""

import fcntl
import os
from pathlib import Path


class RoleLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "engine.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the role if nobody holds it; never blocks."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
