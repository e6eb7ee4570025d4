"""The account store against SQLite and a real PostgreSQL (127.0.0.1:5432, database test).

Under CI=true a missing PostgreSQL is a failure, never a skip.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path

import argon2
import pytest
import sqlalchemy as sa

from exchange.accounts import Application, KycReason, KycStatus, SanctionsList
from exchange.accounts.store import (
    AccountStore,
    AccountTakenError,
    ApplicationNotPendingError,
    IdentityTakenError,
    credentials,
)
from exchange.accounts.throttle import FailureThrottle
from tests import migrated
from tests.accounts.test_kyc import GOOD, with_check_digit
from tests.pg import postgres_schema

TODAY = date(2026, 11, 24)
SANCTIONS = SanctionsList.load()


def _postgres_store() -> Iterator[AccountStore]:
    with postgres_schema() as url:
        store = AccountStore(migrated.accounts_db(url), pepper=secrets.token_bytes(32))
        try:
            yield store
        finally:
            store.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AccountStore]:
    if request.param == "sqlite":
        yield AccountStore(migrated.accounts_db(f"sqlite:///{tmp_path / 'accounts.db'}"))
    else:
        yield from _postgres_store()


def applicant(n: int) -> Application:
    return replace(GOOD, national_id=with_check_digit(f"{100_000_000 + n:09d}"))


def test_application_review_approval_and_login(store: AccountStore) -> None:
    application_id, screening = store.submit(applicant(1), today=TODAY, sanctions=SANCTIONS)
    assert screening.status is KycStatus.PENDING_REVIEW
    pending = store.applications(KycStatus.PENDING_REVIEW)
    assert [a.application_id for a in pending] == [application_id]
    assert pending[0].application == applicant(1)
    assert store.status(application_id) is KycStatus.PENDING_REVIEW
    issued = store.approve(application_id, 1000 + application_id, officer="compliance-1")
    assert issued.scopes == frozenset({"trade", "read"})
    assert issued.account_id == 1000 + application_id  # the engine's, as given
    assert store.status(application_id) is KycStatus.APPROVED
    assert store.status(999_999) is None
    assert store.applications(KycStatus.PENDING_REVIEW) == []
    credential = store.authenticate(issued.client_id, issued.client_secret)
    assert credential is not None and credential.accounts == (issued.account_id,)
    assert store.authenticate(issued.client_id, "wrong") is None
    assert store.authenticate("nobody", issued.client_secret) is None
    with pytest.raises(ApplicationNotPendingError):
        store.approve(application_id, 1000 + application_id, officer="compliance-1")  # once
    assert store.revoke(issued.client_id)
    assert store.authenticate(issued.client_id, issued.client_secret) is None


def test_secrets_are_not_stored_in_clear(store: AccountStore) -> None:
    application_id, _ = store.submit(applicant(2), today=TODAY, sanctions=SANCTIONS)
    issued = store.approve(application_id, 1000 + application_id, officer="c")
    with store.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM credentials"))
    assert issued.client_secret not in dump and "hmac-sha256$" in dump


def test_rejections_and_a_second_application_for_the_same_identity(store: AccountStore) -> None:
    _, screening = store.submit(
        replace(applicant(3), email="bad"), today=TODAY, sanctions=SANCTIONS
    )
    assert screening.status is KycStatus.REJECTED
    # A rejected application does not block a corrected one...
    first, screening = store.submit(applicant(3), today=TODAY, sanctions=SANCTIONS)
    assert screening.status is KycStatus.PENDING_REVIEW
    # ...and a pending one flags the next for compliance (the applicant is not told, M5).
    second, screening = store.submit(applicant(3), today=TODAY, sanctions=SANCTIONS)
    assert screening.status is KycStatus.PENDING_REVIEW
    assert {f.reason for f in screening.findings} == {KycReason.DUPLICATE_IDENTITY}
    store.reject(first, officer="c", note="documents unreadable")
    assert [a.application_id for a in store.applications(KycStatus.REJECTED)][-1] == first
    assert second in [a.application_id for a in store.applications(KycStatus.PENDING_REVIEW)]


def test_m5_an_officer_decides_a_contested_identity_once(store: AccountStore) -> None:
    """Someone applied first with another's national ID (a squatter): on 56b90ba the genuine
    applicant was rejected automatically; now both wait, and only one can be approved."""
    squatter, _ = store.submit(
        replace(applicant(6), full_name="Not The Owner"), today=TODAY, sanctions=SANCTIONS
    )
    genuine, screening = store.submit(applicant(6), today=TODAY, sanctions=SANCTIONS)
    assert screening.status is KycStatus.PENDING_REVIEW
    assert store.approve(genuine, 1000 + genuine, "officer").account_id == 1000 + genuine
    assert store.identity_taken(squatter)
    with pytest.raises(IdentityTakenError):
        store.approve(squatter, 1000 + squatter, "officer")
    store.reject(squatter, officer="officer", note="identity belongs to another customer")


def test_m1_an_application_keeps_one_random_owner_reference(store: AccountStore) -> None:
    first, _ = store.submit(applicant(7), today=TODAY, sanctions=SANCTIONS)
    second, _ = store.submit(applicant(8), today=TODAY, sanctions=SANCTIONS)
    owner = store.account_owner(first)
    assert store.account_owner(first) == owner  # a retry asks the engine for the same account
    assert store.account_owner(second) != owner
    assert owner.startswith("app_") and len(owner) == 36  # random, not the application id


def test_m1_an_account_recorded_for_another_application_is_refused(store: AccountStore) -> None:
    """The engine's account is already this database's for someone else: nothing approved."""
    first, _ = store.submit(applicant(9), today=TODAY, sanctions=SANCTIONS)
    second, _ = store.submit(applicant(10), today=TODAY, sanctions=SANCTIONS)
    store.approve(first, 77, officer="c")
    with pytest.raises(AccountTakenError):
        store.approve(second, 77, officer="c")
    assert store.status(second) is KycStatus.PENDING_REVIEW
    assert store.credentials_of(77) and len(store.credentials_of(77)) == 1


def test_broker_and_configured_admin_credentials(store: AccountStore) -> None:
    accounts = []
    for n in (4, 5):
        application_id, _ = store.submit(applicant(n), today=TODAY, sanctions=SANCTIONS)
        accounts.append(store.approve(application_id, 1000 + n, officer="c").account_id)
    client_id, secret = store.create_credential(frozenset({"trade", "read"}), tuple(accounts))
    broker = store.authenticate(client_id, secret)
    assert broker is not None and broker.accounts == tuple(sorted(accounts))
    scopes = frozenset({"admin", "compliance"})
    store.create_credential(scopes, client_id="admin", secret="configured-secret-1")
    store.create_credential(scopes, client_id="admin", secret="another")  # rotated (H5)
    assert store.authenticate("admin", "configured-secret-1") is None  # the old one ends
    admin = store.authenticate("admin", "another")
    assert admin is not None and admin.scopes == scopes and admin.accounts == ()


def test_concurrent_approvals_logins_and_applications_all_succeed(store: AccountStore) -> None:
    """Officers approve while customers log in and apply: no "database is locked" on SQLite."""
    ids = [store.submit(applicant(100 + n), today=TODAY, sanctions=SANCTIONS)[0] for n in range(31)]
    last = ids.pop()
    first = store.approve(last, 1000 + last, officer="compliance-1")

    def approve(application_id: int) -> bool:
        issued = store.approve(application_id, 1000 + application_id, officer="compliance-1")
        return store.authenticate(issued.client_id, issued.client_secret) is not None

    def log_in(_: int) -> bool:
        return store.authenticate(first.client_id, first.client_secret) is not None

    def apply(n: int) -> bool:
        return store.submit(applicant(200 + n), today=TODAY, sanctions=SANCTIONS)[0] > 0

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = [
            *pool.map(approve, ids),
            *pool.map(log_in, range(6)),
            *pool.map(apply, range(6)),
        ]
    assert results == [True] * (len(ids) + 12)
    assert len(store.applications(KycStatus.APPROVED)) == 31


class _Argon2Calls:
    """Counts Argon2 work (the real functions still run)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        for name in ("hash", "verify"):
            original = getattr(argon2.PasswordHasher, name)

            def counted(*args: object, _original: object = original, **kw: object) -> object:
                self.count += 1
                return _original(*args, **kw)  # type: ignore[operator]

            monkeypatch.setattr(argon2.PasswordHasher, name, counted)


def test_h1_token_check_is_cheap(store: AccountStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets are stored as HMAC-SHA256 and checked without Argon2; old Argon2 hashes migrate."""
    argon2_calls = _Argon2Calls(monkeypatch)
    application_id, _ = store.submit(applicant(300), today=TODAY, sanctions=SANCTIONS)
    issued = store.approve(application_id, 1000 + application_id, officer="c")
    assert store.authenticate(issued.client_id, issued.client_secret) is not None
    assert store.authenticate(issued.client_id, "wrong") is None
    assert store.authenticate("cl_unknown", issued.client_secret) is None
    assert argon2_calls.count == 0
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(credentials.c.secret_hash)).scalar_one()
    assert stored.startswith("hmac-sha256$") and len(stored) == len("hmac-sha256$") + 64

    # An existing var/ keeps working: an Argon2 hash is checked once, then replaced.
    with store.engine.begin() as conn:
        conn.execute(
            credentials.update()
            .where(credentials.c.client_id == issued.client_id)
            .values(secret_hash=argon2.PasswordHasher().hash(issued.client_secret))
        )
    argon2_calls.count = 0
    assert store.authenticate(issued.client_id, issued.client_secret) is not None
    assert argon2_calls.count == 1
    assert store.authenticate(issued.client_id, issued.client_secret) is not None
    assert argon2_calls.count == 1
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(credentials.c.secret_hash)).scalar_one() == stored


def test_h1_unknown_client_ids_take_the_same_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No early return for unknown ids (L5): each check hashes the secret once and compares."""
    from exchange.accounts import credentials as module

    url = migrated.accounts_db(f"sqlite:///{tmp_path / 'accounts.db'}")
    store = AccountStore(url, pepper=secrets.token_bytes(32))
    client_id, secret = store.create_credential(frozenset({"read"}))
    compared: list[tuple[bytes, bytes]] = []
    real = module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(module.hmac, "compare_digest", spy)
    assert store.authenticate("cl_nobody_at_all", secret) is None
    assert store.authenticate(client_id, secret + "x") is None
    assert len(compared) == 2
    assert [len(b) for _, b in compared] == [len("hmac-sha256$") + 64] * 2


def test_h1_failed_attempts_throttled(tmp_path: Path) -> None:
    now = [1_000.0]
    throttle = FailureThrottle(free=5, max_wait=60, clock=lambda: now[0])
    url = migrated.accounts_db(f"sqlite:///{tmp_path / 'accounts.db'}")
    store = AccountStore(url, throttle=throttle)
    client_id, secret = store.create_credential(frozenset({"read"}))
    for _ in range(4):
        assert store.check(client_id, "guess").retry_after == 0
    assert store.check(client_id, "guess").retry_after == 0  # the fifth failure starts a wait
    refused = store.check(client_id, secret)  # even the right secret waits now
    assert refused.credential is None and refused.retry_after == 1.0
    now[0] += 1.0
    assert store.check(client_id, "guess").credential is None  # sixth failure: 2 s
    assert store.check(client_id, secret).retry_after == 2.0
    for _ in range(20):  # the wait doubles up to the cap
        now[0] += 60.0
        store.check(client_id, "guess")
    assert store.check(client_id, secret).retry_after == 60.0
    now[0] += 60.0
    assert store.check(client_id, secret).credential is not None
    assert store.check(client_id, "guess").retry_after == 0  # a success reset the count
    # Unknown ids are throttled the same way, and other ids are not affected.
    for _ in range(5):
        store.check("cl_nobody", "guess")
    assert store.check("cl_nobody", "guess").retry_after > 0
    other, other_secret = store.create_credential(frozenset({"read"}))
    assert store.check(other, other_secret).credential is not None
