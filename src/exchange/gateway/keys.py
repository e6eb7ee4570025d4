"""The token signing key: created once in the data directory, readable by its owner only.

Anyone who reads it can mint admin tokens, so it is made and checked like every
secret file (accounts/keyfile.py, review L7): created whole and linked into
place (a gateway starting at the same moment never reads an empty key), and a
file that group or others can read is refused, not used.
"""

from pathlib import Path

from exchange.accounts.keyfile import load_or_create_key as _load_or_create


def load_or_create_key(path: Path) -> bytes:
    """All gateways sharing a data directory sign with the same key."""
    return _load_or_create(path, 32)
