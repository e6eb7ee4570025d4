"""API credentials: random client secrets, stored only as Argon2 hashes."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
SECRET_BYTES = 32
MAX_SECRET_LENGTH = 256
"""Longer inputs are refused before hashing: hashing is deliberately expensive."""


def new_client_id(prefix: str = "cl") -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def new_client_secret() -> str:
    """Shown once to its owner, never stored in clear."""
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
