"""The token signing key: created once in the data directory, readable by its owner only."""

import os
from pathlib import Path

from exchange.accounts import new_signing_key


def load_or_create_key(path: Path) -> bytes:
    """All gateways sharing a data directory sign with the same key."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = new_signing_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another gateway won the race: use its key
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(key)
    if len(key) < 32:
        raise ValueError(f"{path} holds a signing key shorter than 32 bytes")
    return key
