"""Review M1 in the core: the core allocates account ids and binds each to its owner."""

import msgspec

from exchange.core import (
    Deposit,
    ExchangeCore,
    OpenAccount,
    OpenAccountV1,
    RejectReason,
    encode,
    restore,
    state_hash,
)
from exchange.core.events import AccountOpened, CommandRejected
from exchange.core.snapshot import capture
from tests.core.harness import Harness, only


def test_m1_account_ids_come_from_the_core_in_order() -> None:
    h = Harness()
    assert h.apply(OpenAccount(owner="app-a")) == [AccountOpened(account=1)]
    assert h.apply(OpenAccount(owner="app-b")) == [AccountOpened(account=2)]
    assert list(h.core.accounts) == [1, 2]
    assert h.core.owners == {"app-a": 1, "app-b": 2}
    assert h.core.next_account_id == 3


def test_m1_the_same_owner_gets_its_own_account_back_and_nothing_opens() -> None:
    h = Harness()
    h.apply(OpenAccount(owner="app-a"))
    h.apply(OpenAccount(owner="app-b"))
    again = only(h.apply(OpenAccount(owner="app-a")), CommandRejected)
    assert (again.reason, again.account, again.detail) == (RejectReason.ACCOUNT_EXISTS, 1, "app-a")
    assert list(h.core.accounts) == [1, 2] and h.core.next_account_id == 3


def test_m1_an_owner_reference_must_be_an_identifier() -> None:
    h = Harness()
    for owner in ("", "has space", "x" * 65, "ctl\x01"):
        refused = only(h.apply(OpenAccount(owner=owner)), CommandRejected)
        assert refused.reason is RejectReason.INVALID_REFERENCE
    assert not h.core.accounts and h.core.next_account_id == 1


def test_m1_an_old_journal_opens_its_ids_and_new_ids_come_after_them() -> None:
    """OpenAccountV1 replays as OpenAccount did; the next id is past every replayed one."""
    h = Harness()
    assert h.apply(OpenAccountV1(account=7)) == [AccountOpened(account=7)]
    assert h.apply(OpenAccountV1(account=3)) == [AccountOpened(account=3)]
    exists = only(h.apply(OpenAccountV1(account=7)), CommandRejected)
    assert exists.reason is RejectReason.ACCOUNT_EXISTS
    assert h.core.next_account_id == 8
    assert h.apply(OpenAccount(owner="new")) == [AccountOpened(account=8)]
    assert h.core.accounts[7].owner == "" and h.core.accounts[8].owner == "new"


def _opened_core() -> ExchangeCore:
    core = ExchangeCore()
    for ts, command in enumerate(
        [
            OpenAccountV1(account=5),
            OpenAccount(owner="app-a"),
            Deposit(account=6, asset="IRR", amount=100, reference="d-1"),
        ],
        start=1,
    ):
        core.apply(command, ts)
    return core


def test_m1_a_snapshot_keeps_the_next_account_id_and_the_owners() -> None:
    core = _opened_core()
    restored = restore(encode(core))
    assert restored.next_account_id == core.next_account_id == 7
    assert restored.owners == {"app-a": 6}
    assert state_hash(restored) == state_hash(core)
    refused = restored.apply(OpenAccount(owner="app-a"), 9)
    assert refused == [
        CommandRejected(reason=RejectReason.ACCOUNT_EXISTS, account=6, detail="app-a")
    ]


def test_m1_a_version_2_snapshot_restores_with_the_next_id_after_its_accounts() -> None:
    """As replaying its journal would: the next id follows the highest account."""
    core = ExchangeCore()
    for ts, account in enumerate((4, 9, 2), start=1):
        core.apply(OpenAccountV1(account=account), ts)
    fields = msgspec.to_builtins(capture(core))
    fields[0] = 2  # version 2: no next account id, no owners
    del fields[-1]
    for account in fields[6]:
        del account[-1]
    restored = restore(msgspec.msgpack.encode(fields))
    assert list(restored.accounts) == [4, 9, 2]
    assert restored.next_account_id == 10 and restored.owners == {}
    assert state_hash(restored) == state_hash(core)
