"""Review M1: account ids come from the engine, bound to the application that asked.

Before, the account id was the application id and ACCOUNT_EXISTS counted as
success, so an accounts database that diverged from the journal (restored,
recreated, a second one) handed a new applicant an existing customer's
account. Now the approval opens the account under the application's random
owner reference; the engine allocates the id and answers a repeat of that
reference, and only that, with the same account.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from exchange.core import Deposit, OpenAccount, OpenAccountV1, RejectReason
from exchange.core.events import AccountOpened, CommandRejected, opened_account
from exchange.engine.client import EngineClient
from exchange.engine.journaled import JournaledCore
from exchange.gateway import create_app
from exchange.journal import JournalReader
from exchange.sequencer import decode_batch
from tests.accounts.test_kyc import with_check_digit
from tests.engine.test_server import EngineProcess
from tests.gateway.conftest import ADMIN, make_config, open_account, token

VICTIM_CASH = 10**9


def _openings(engine: EngineProcess) -> list[tuple[object, list[object]]]:
    """Every account-opening command in the engine's journal, with its events."""
    found = []
    for record in JournalReader(engine.data_dir / "journal").read_all():
        batch = decode_batch(record.payload)
        for command, events in zip(batch.commands, batch.events, strict=True):
            if type(command) in (OpenAccount, OpenAccountV1):
                found.append((command, list(events)))
    return found


def _owner_of(client: TestClient, application_id: int) -> str:
    store = client.app.state.gateway.store  # type: ignore[attr-defined]
    with store.engine.connect() as conn:
        owner = conn.exec_driver_sql(
            "SELECT account_owner FROM kyc_applications WHERE application_id = ?",
            (application_id,),
        ).scalar_one()
    return str(owner)


def _apply(client: TestClient, n: int) -> int:
    body = {
        "fullName": f"Applicant Number {n}",
        "nationalId": with_check_digit(f"{600_000_000 + n:09d}"),
        "dateOfBirth": "1990-01-01",
        "address": "1 Test St, Tehran",
        "email": f"m1-{n}@example.ir",
        "phone": "+989120000000",
    }
    created = client.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    return int(created.json()["applicationId"])


@pytest.fixture
def old_journal_engine(tmp_path: Path) -> Iterator[EngineProcess]:
    """An engine whose journal was written before M1: application 1 of the accounts database
    of then became account 1, which holds a customer's cash."""
    data = tmp_path / "engine"
    with JournaledCore(data) as core:
        core.process(
            [
                OpenAccountV1(account=1),
                Deposit(account=1, asset="IRR", amount=VICTIM_CASH, reference="victim-cash"),
            ]
        )
    process = EngineProcess(data)
    process.start()
    journal = data / "journal"
    deadline = time.monotonic() + 60
    while JournalReader(journal).head_seq() < 100:  # the listing after the old records
        assert process.proc is not None and process.proc.poll() is None, "the engine died"
        assert time.monotonic() < deadline, "the engine did not list the symbols"
        time.sleep(0.02)
    try:
        yield process
    finally:
        if process.proc is not None and process.proc.poll() is None:
            process.kill(signal.SIGTERM)


def test_m1_account_ids_come_from_the_engine(
    client: TestClient, admin: dict[str, str], engine: EngineProcess
) -> None:
    """Accounts opened elsewhere (a broker's, a bench's) come first: the approval gets the
    engine's next id, not the application id, opened for this application's reference."""

    async def others() -> list[int]:
        engine_client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.5, deadline=30)
        try:
            return [await engine_client.open_account(f"other-{n}") for n in range(3)]
        finally:
            await engine_client.close()

    assert asyncio.run(others()) == [1, 2, 3]
    application_id = _apply(client, 1)
    approved = client.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    account = approved.json()["accountId"]
    assert (application_id, account) == (1, 4)
    owner = _owner_of(client, application_id)
    assert _openings(engine)[-1] == (OpenAccount(owner=owner), [AccountOpened(account=4)])
    trader = token(client, approved.json()["clientId"], approved.json()["clientSecret"])
    assert client.get("/v1/account", headers=trader).json()["accountId"] == 4
    assert client.get("/v1/account?accountId=1", headers=trader).status_code == 403


def test_m1_account_exists_is_not_success_for_another_application(
    tmp_path: Path, old_journal_engine: EngineProcess
) -> None:
    """A fresh accounts database against a journal with accounts: its application 1 gets a
    new account, never the old application 1's (nor one another database opened)."""
    engine = old_journal_engine
    first_db, fresh_db = tmp_path / "first", tmp_path / "fresh"
    first_db.mkdir()
    fresh_db.mkdir()
    with TestClient(create_app(make_config(first_db, engine))) as first:
        admin = token(first, ADMIN["client_id"], ADMIN["client_secret"])
        earlier = open_account(first, admin, cash=5_000)
    assert earlier.account_id == 2  # after the old journal's account 1
    with TestClient(create_app(make_config(fresh_db, engine))) as fresh:
        admin = token(fresh, ADMIN["client_id"], ADMIN["client_secret"])
        application_id = _apply(fresh, 2)
        assert application_id == 1  # the id the old database had given the victim
        approved = fresh.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
        assert approved.status_code == 200, approved.text
        issued = approved.json()
        assert issued["accountId"] == 3
        newcomer = token(fresh, issued["clientId"], issued["clientSecret"])
        for taken in (1, 2):
            assert fresh.get(f"/v1/account?accountId={taken}", headers=newcomer).status_code == 403
        own = fresh.get("/v1/account", headers=newcomer).json()
        assert (own["accountId"], own["cash"]["total"]) == (3, 0)
    opened = [events for _, events in _openings(engine)]
    assert opened == [[AccountOpened(account=n)] for n in (1, 2, 3)]
    # ACCOUNT_EXISTS names an account only for the reference it is bound to:
    elsewhere = CommandRejected(reason=RejectReason.ACCOUNT_EXISTS, account=1, detail="app_x")
    assert opened_account([elsewhere], "app_y") is None
    assert opened_account([elsewhere], "app_x") == 1


def test_m1_approval_retry_is_idempotent(
    client: TestClient, admin: dict[str, str], engine: EngineProcess
) -> None:
    """The gateway dies between the engine opening the account and the database recording it:
    the retry gets that same account, found by the application's reference, and no other."""
    application_id = _apply(client, 3)
    store = client.app.state.gateway.store  # type: ignore[attr-defined]
    approve = store.approve

    def crash(*args: object, **kwargs: object) -> object:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    store.approve = crash
    with pytest.raises(sa.exc.OperationalError):
        client.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    store.approve = approve
    pending = client.get("/v1/admin/kyc", headers=admin).json()["applications"]
    assert [a["applicationId"] for a in pending] == [application_id]
    other = open_account(client, admin)  # meanwhile another customer is approved
    retried = client.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["accountId"], other.account_id) == (1, 2)
    owner = _owner_of(client, application_id)
    mine = [events for command, events in _openings(engine) if command == OpenAccount(owner=owner)]
    assert mine == [
        [AccountOpened(account=1)],
        [CommandRejected(reason=RejectReason.ACCOUNT_EXISTS, account=1, detail=owner)],
    ]
    again = client.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    assert again.status_code == 409  # approved once; nothing more is opened
    assert len(_openings(engine)) == 3
