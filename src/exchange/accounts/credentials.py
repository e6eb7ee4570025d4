"""API credentials: random client secrets, stored only as HMAC-SHA256(pepper, secret).

Why not Argon2: a memory-hard hash protects guessable passwords, but client
secrets are 256-bit random values, so nobody can guess one whatever the
hash; Argon2 only made every token request and FIX logon cost 0.25 CPU-s
and 64 MiB, which let anyone who knew a client id exhaust the gateway
(security review H1). HMAC with a per-deployment pepper (a key file in the
data directory, not in the database) costs microseconds and still keeps an
operator-chosen admin secret out of reach of someone who holds only a copy
of the database. Hashes made by earlier versions (Argon2) are verified once
and replaced on success (`Verdict.rehash`).
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SECRET_BYTES = 32
MAX_SECRET_LENGTH = 256
"""Longer inputs are refused before hashing."""
SCHEME = "hmac-sha256$"
LEGACY_SCHEME = "$argon2"
_legacy = PasswordHasher()


def new_client_id(prefix: str = "cl") -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def new_account_owner() -> str:
    """An application's reference for the engine account opened for it: random, so no other
    application (in this database or a restored or recreated one) ever names the same."""
    return f"app_{secrets.token_hex(16)}"


def new_client_secret() -> str:
    """Shown once to its owner, never stored in clear."""
    return secrets.token_urlsafe(SECRET_BYTES)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rehash: bool = False
    """The stored hash is in an old scheme: store `SecretHasher.hash(secret)` instead."""


class SecretHasher:
    """Hashes and checks secrets with one deployment's pepper, in constant time."""

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < 32:
            raise ValueError("the pepper must be at least 32 bytes")
        self._pepper = pepper
        self._dummy = self.hash(new_client_secret())

    def hash(self, secret: str) -> str:
        digest = hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()
        return SCHEME + digest

    def verify(self, stored_hash: str | None, secret: str) -> Verdict:
        """Whether `secret` matches; `stored_hash=None` (no such client) costs the same as a miss.

        Only a hash left by an earlier version takes Argon2's cost, once per
        credential: it is replaced after the first successful check.
        """
        if not secret or len(secret) > MAX_SECRET_LENGTH:
            secret = ""
        computed = self.hash(secret)
        if stored_hash is not None and stored_hash.startswith(LEGACY_SCHEME):
            return Verdict(_verify_legacy(stored_hash, secret), rehash=True)
        expected = stored_hash if stored_hash is not None else self._dummy
        match = hmac.compare_digest(computed.encode(), expected.encode())
        return Verdict(match and bool(secret) and stored_hash is not None)


def _verify_legacy(stored_hash: str, secret: str) -> bool:
    if not secret:
        return False
    try:
        return _legacy.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
