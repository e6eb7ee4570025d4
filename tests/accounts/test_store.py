"""The account store against SQLite and a real PostgreSQL (127.0.0.1:5432, database test).

Under CI=true a missing PostgreSQL is a failure, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from exchange.accounts import Application, KycReason, KycStatus, SanctionsList
from exchange.accounts.store import AccountStore, ApplicationNotPendingError
from tests import migrated
from tests.accounts.test_kyc import GOOD, with_check_digit
from tests.pg import postgres_schema

TODAY = date(2026, 11, 24)
SANCTIONS = SanctionsList.load()


def _postgres_store() -> Iterator[AccountStore]:
    with postgres_schema() as url:
        store = AccountStore(migrated.accounts_db(url))
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
    issued = store.approve(application_id, officer="compliance-1")
    assert issued.scopes == frozenset({"trade", "read"})
    assert issued.account_id == application_id
    assert store.status(application_id) is KycStatus.APPROVED
    assert store.status(999_999) is None
    assert store.applications(KycStatus.PENDING_REVIEW) == []
    credential = store.authenticate(issued.client_id, issued.client_secret)
    assert credential is not None and credential.accounts == (issued.account_id,)
    assert store.authenticate(issued.client_id, "wrong") is None
    assert store.authenticate("nobody", issued.client_secret) is None
    with pytest.raises(ApplicationNotPendingError):
        store.approve(application_id, officer="compliance-1")  # never twice
    assert store.revoke(issued.client_id)
    assert store.authenticate(issued.client_id, issued.client_secret) is None


def test_secrets_are_not_stored_in_clear(store: AccountStore) -> None:
    application_id, _ = store.submit(applicant(2), today=TODAY, sanctions=SANCTIONS)
    issued = store.approve(application_id, officer="c")
    with store.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM credentials"))
    assert issued.client_secret not in dump and "$argon2" in dump


def test_rejections_and_a_second_application_for_the_same_identity(store: AccountStore) -> None:
    _, screening = store.submit(
        replace(applicant(3), email="bad"), today=TODAY, sanctions=SANCTIONS
    )
    assert screening.status is KycStatus.REJECTED
    # A rejected application does not block a corrected one...
    first, screening = store.submit(applicant(3), today=TODAY, sanctions=SANCTIONS)
    assert screening.status is KycStatus.PENDING_REVIEW
    # ...but a pending or approved one does.
    _, screening = store.submit(applicant(3), today=TODAY, sanctions=SANCTIONS)
    assert {f.reason for f in screening.findings} == {KycReason.DUPLICATE_IDENTITY}
    store.reject(first, officer="c", note="documents unreadable")
    assert [a.application_id for a in store.applications(KycStatus.REJECTED)][-2] == first


def test_broker_and_configured_admin_credentials(store: AccountStore) -> None:
    accounts = []
    for n in (4, 5):
        application_id, _ = store.submit(applicant(n), today=TODAY, sanctions=SANCTIONS)
        accounts.append(store.approve(application_id, officer="c").account_id)
    client_id, secret = store.create_credential(frozenset({"trade", "read"}), tuple(accounts))
    broker = store.authenticate(client_id, secret)
    assert broker is not None and broker.accounts == tuple(sorted(accounts))
    scopes = frozenset({"admin", "compliance"})
    store.create_credential(scopes, client_id="admin", secret="configured-secret-1")
    store.create_credential(scopes, client_id="admin", secret="another")  # already exists
    admin = store.authenticate("admin", "configured-secret-1")
    assert admin is not None and admin.scopes == scopes and admin.accounts == ()


def test_concurrent_approvals_logins_and_applications_all_succeed(store: AccountStore) -> None:
    """Officers approve while customers log in and apply: no "database is locked" on SQLite."""
    ids = [store.submit(applicant(100 + n), today=TODAY, sanctions=SANCTIONS)[0] for n in range(31)]
    first = store.approve(ids.pop(), officer="compliance-1")

    def approve(application_id: int) -> bool:
        issued = store.approve(application_id, officer="compliance-1")
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
