"""Credentials are stored as peppered HMACs; tokens are signed, scoped and expire."""

import jwt
import pytest

from exchange.accounts import (
    InvalidTokenError,
    SecretHasher,
    TokenIssuer,
    new_client_id,
    new_client_secret,
    new_signing_key,
)

NOW = 1_790_000_000


def test_secrets_are_random_hashed_and_verified() -> None:
    secret = new_client_secret()
    assert len(secret) >= 40 and secret != new_client_secret()
    assert new_client_id() != new_client_id()
    hasher = SecretHasher(new_signing_key())
    stored = hasher.hash(secret)
    assert secret not in stored and stored.startswith("hmac-sha256$")
    assert hasher.verify(stored, secret).ok
    assert not hasher.verify(stored, secret + "x").ok
    assert not hasher.verify(stored, "").ok
    assert not hasher.verify(stored, "x" * 10_000).ok  # refused before hashing
    assert not hasher.verify("not a hash", secret).ok
    assert not hasher.verify(None, secret).ok  # no such client
    other = SecretHasher(new_signing_key())  # another deployment's pepper
    assert other.hash(secret) != stored and not other.verify(stored, secret).ok


def test_tokens_carry_scopes_and_accounts_and_expire() -> None:
    issuer = TokenIssuer(new_signing_key(), ttl_seconds=60)
    token, expires_in = issuer.issue("cl_1", frozenset({"trade", "read"}), (7, 9), NOW)
    assert expires_in == 60
    claims = issuer.verify(token, NOW + 59)
    assert claims.client_id == "cl_1"
    assert claims.scopes == frozenset({"trade", "read"})
    assert claims.accounts == (7, 9)
    with pytest.raises(InvalidTokenError, match="expired"):
        issuer.verify(token, NOW + 60)


def test_forged_tampered_and_foreign_tokens_are_refused() -> None:
    key = new_signing_key()
    issuer = TokenIssuer(key)
    token, _ = issuer.issue("cl_1", frozenset({"read"}), (1,), NOW)
    with pytest.raises(InvalidTokenError):
        TokenIssuer(new_signing_key()).verify(token, NOW)  # another key
    header, payload, signature = token.split(".")
    with pytest.raises(InvalidTokenError):
        issuer.verify(f"{header}.{payload}x.{signature}", NOW)
    unsigned = jwt.encode({"sub": "cl_1", "iss": "exchange", "iat": NOW, "exp": NOW + 60,
                           "scope": "admin"}, None, algorithm="none")  # fmt: skip
    with pytest.raises(InvalidTokenError):
        issuer.verify(unsigned, NOW)
    with pytest.raises(InvalidTokenError):
        TokenIssuer(key, issuer="elsewhere").verify(token, NOW)
    with pytest.raises(InvalidTokenError):
        issuer.verify("", NOW)
    with pytest.raises(ValueError, match="unknown scopes"):
        issuer.issue("cl_1", frozenset({"root"}), (), NOW)
    with pytest.raises(ValueError):
        TokenIssuer(b"short")


def test_the_verified_token_cache_is_bounded_and_never_trusts_a_changed_token() -> None:
    issuer = TokenIssuer(new_signing_key(), ttl_seconds=60, cache_size=3)
    tokens = [issuer.issue(f"cl_{i}", frozenset({"read"}), (i,), NOW)[0] for i in range(5)]
    for token in tokens:
        assert issuer.verify(token, NOW).client_id.startswith("cl_")
    assert len(issuer._verified) == 3
    header, payload, signature = tokens[-1].split(".")
    with pytest.raises(InvalidTokenError):
        # The first character: all six of its bits are signature (the last one's are not all,
        # so replacing the tail could leave the signature unchanged, one time in a thousand).
        forged = ("B" if signature[0] == "A" else "A") + signature[1:]
        issuer.verify(f"{header}.{payload}.{forged}", NOW)
    with pytest.raises(InvalidTokenError, match="expired"):
        issuer.verify(tokens[-1], NOW + 60)  # cached, but expiry is checked every time
    assert issuer.verify(tokens[0], NOW + 1).accounts == (0,)  # evicted: verified again
