"""Access tokens: short-lived JWTs (HS256) naming a client, its scopes and its accounts."""

import secrets
from dataclasses import dataclass
from typing import Final

import jwt

SCOPES: Final = frozenset({"trade", "read", "admin", "compliance"})
ALGORITHM: Final = "HS256"


class InvalidTokenError(Exception):
    """Missing, malformed, forged, expired or for another issuer (answer 401)."""


@dataclass(frozen=True)
class Claims:
    client_id: str
    scopes: frozenset[str]
    accounts: tuple[int, ...]
    expires_at: int


def new_signing_key() -> bytes:
    return secrets.token_bytes(32)


class TokenIssuer:
    """Issues and verifies tokens; `now` is passed in so expiry is testable."""

    def __init__(
        self,
        key: bytes,
        *,
        issuer: str = "exchange",
        ttl_seconds: int = 900,
        cache_size: int = 100_000,
    ) -> None:
        if len(key) < 32:
            raise ValueError("the signing key must be at least 32 bytes")
        self._key = key
        self.issuer = issuer
        self.ttl_seconds = ttl_seconds
        self.cache_size = cache_size
        self._verified: dict[str, Claims] = {}

    def issue(
        self, client_id: str, scopes: frozenset[str], accounts: tuple[int, ...], now: int
    ) -> tuple[str, int]:
        """A token and its lifetime in seconds."""
        unknown = scopes - SCOPES
        if unknown:
            raise ValueError(f"unknown scopes: {sorted(unknown)}")
        claims = {
            "iss": self.issuer,
            "sub": client_id,
            "scope": " ".join(sorted(scopes)),
            "acc": list(accounts),
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), self.ttl_seconds

    def verify(self, token: str, now: int) -> Claims:
        """The token's claims; signature checks are cached (a token's bytes never change).

        The cache holds only tokens that verified, keyed by the whole token, so a
        forged or altered token always takes the full check; expiry is checked
        on every call.
        """
        if not token or len(token) > 4096:
            raise InvalidTokenError("no token, or an implausibly long one")
        cached = self._verified.get(token)
        if cached is None:
            cached = self._verify_signature(token)
            if len(self._verified) >= self.cache_size:
                self._verified.pop(next(iter(self._verified)))  # oldest first
            self._verified[token] = cached
        if now >= cached.expires_at:
            raise InvalidTokenError("token expired")
        return cached

    def _verify_signature(self, token: str) -> Claims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": False},
            )
        except jwt.PyJWTError as error:
            raise InvalidTokenError(str(error)) from None
        expires_at = int(claims["exp"])
        scopes = frozenset(str(claims.get("scope", "")).split()) & SCOPES
        accounts = tuple(int(a) for a in claims.get("acc", []))
        return Claims(str(claims["sub"]), scopes, accounts, expires_at)
