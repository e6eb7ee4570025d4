"""Small secret files in the data directory (signing key, pepper): owner-only, created atomically.

Why: anyone who reads `gateway.key` can mint admin tokens, and anyone who
reads the pepper can test guesses of the configured admin secret against a
copy of the accounts database. So a file that group or others can read is
refused with a clear error rather than used, and a new file is written
whole to a temporary name and then linked into place: a process starting
at the same moment sees either no file or the whole key, never an empty
one, and the first link wins (the loser reads the winner's key).
"""

import contextlib
import os
import secrets
import stat
from pathlib import Path


class InsecureKeyFileError(Exception):
    """A secret file is readable by others, not ours, or not a regular file: refuse to start."""


def read_key(path: Path, min_bytes: int = 32) -> bytes:
    """The file's bytes, after checking it is a regular file of ours that only we can read."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InsecureKeyFileError(f"{path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise InsecureKeyFileError(f"{path} belongs to uid {info.st_uid}, not to this user")
        if info.st_mode & 0o077:
            raise InsecureKeyFileError(
                f"{path} is readable or writable by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}): run `chmod 600 {path}`"
            )
        with os.fdopen(os.dup(fd), "rb") as f:
            key = f.read()
    finally:
        os.close(fd)
    if len(key) < min_bytes:
        raise ValueError(f"{path} holds a key shorter than {min_bytes} bytes")
    return key


def load_or_create_key(path: Path, size: int = 32) -> bytes:
    """Read the key at `path`, creating it (random, `size` bytes, mode 0600) if it is missing."""
    try:
        return read_key(path, size)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(size))
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: read its key
            os.link(temporary, path)  # atomic, and never replaces an existing key
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return read_key(path, size)
