"""FIX 4.4 conformance against QuickFIX as the initiator, strict validation on, real acceptor.

Each test fails when QuickFIX sends a session-level Reject (35=3) or asks for a
resend because a sequence number was skipped (35=2), or when a reply does not
arrive as a message within its time. Order rejections are generated from the
core's RejectReason enum: every reason is either driven for real over FIX, or
listed with why a NewOrderSingle cannot produce it.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from exchange.accounts.store import AccountStore
from exchange.core import (
    AccountStatus,
    Deposit,
    InstrumentStatus,
    RejectReason,
    SetAccountStatus,
    SetInstrumentStatus,
)
from exchange.engine.client import EngineClient
from exchange.engine.ports import free_ports
from exchange.fix.codec import Message
from exchange.fix.vocabulary import ORD_REJ_REASON
from tests import migrated
from tests.engine.test_server import EngineProcess
from tests.fix.quickfix_peer import QuickFixPeer, start, wait_until
from tests.fix.test_gateway import Fix
from tests.gateway.test_e2e import GatewayProcess

FUNDED, COUNTERPARTY, EMPTY, SUSPENDED, NOT_OPENED = 1, 2, 3, 4, 5
HALTED = "KHODRO"
REF = 5_430  # FOOLAD's reference price


@dataclass
class Venue:
    engine: EngineProcess
    fix: Fix
    credentials: dict[int, tuple[str, str]]
    workdir: Path


@pytest.fixture
def venue(tmp_path: Path, engine: EngineProcess) -> Iterator[Venue]:
    data = migrated.data_dir(tmp_path / "fix")
    store = AccountStore(f"sqlite:///{data / 'accounts.db'}")
    credentials = {
        a: store.create_credential(frozenset({"trade", "read"}), (a,))
        for a in (FUNDED, COUNTERPARTY, EMPTY, SUSPENDED, NOT_OPENED)
    }
    store.engine.dispose()

    async def prepare() -> None:
        client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.5, deadline=30)
        try:
            for account in (FUNDED, COUNTERPARTY, EMPTY, SUSPENDED):
                opened = await client.open_account(f"owner-{account}")
                assert opened == account, "a new engine gives account ids 1, 2, ... in order"
            for account in (FUNDED, COUNTERPARTY):
                await client.submit(
                    Deposit(account=account, asset="IRR", amount=10**12, reference=f"c{account}")
                )
                await client.submit(
                    Deposit(account=account, asset="FOOLAD", amount=10**6, reference=f"s{account}")
                )
            await client.submit(SetAccountStatus(account=SUSPENDED, status=AccountStatus.SUSPENDED))
            await client.submit(SetInstrumentStatus(symbol=HALTED, status=InstrumentStatus.HALTED))
        finally:
            await client.close()

    asyncio.run(prepare())
    (port,) = free_ports(1)
    gateway = Fix(engine, data, port, credentials)
    gateway.start()
    try:
        yield Venue(engine, gateway, credentials, tmp_path / "quickfix")
    finally:
        gateway.stop()


@pytest.fixture
def connect(venue: Venue) -> Iterator[Callable[..., QuickFixPeer]]:
    """Log a QuickFIX initiator on for an account (or with a wrong password); stopped after."""
    started = []

    def logon(account: int = FUNDED, password: str | None = None) -> QuickFixPeer:
        client_id, secret = venue.credentials[account]
        peer = QuickFixPeer(secret if password is None else password)
        started.append(start(peer, venue.fix.port, client_id, venue.workdir / str(len(started))))
        if password is None:
            assert wait_until(lambda: peer.logged_on), "QuickFIX did not log on"
        return peer

    yield logon
    for initiator in started:
        initiator.stop()


def now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.000")


def order(
    cl: str, side: str = "1", qty: int = 100, price: int | None = REF, *,
    symbol: str = "FOOLAD", tif: str = "0", kind: str | None = None,
) -> list[tuple[int, str]]:  # fmt: skip
    fields = [(11, cl), (55, symbol), (54, side), (60, now()), (38, str(qty)),
              (40, kind or ("2" if price is not None else "1")), (59, tif)]  # fmt: skip
    if price is not None:
        fields.append((44, str(price)))
    return fields


def report(peer: QuickFixPeer, cl: str, exec_type: str, timeout: float = 10.0) -> Message:
    return peer.expect(
        lambda m: m.msg_type == "8" and m.get(11) == cl and m.get(150) == exec_type, timeout
    )


def clean(peer: QuickFixPeer) -> None:
    """Nothing QuickFIX found wrong: no Reject (35=3), no resend for a skipped number (35=2)."""
    assert peer.rejects_and_resends() == []


# --------------------------------------------------------------------- session


def test_logon_with_the_right_password_and_logout(
    venue: Venue, connect: Callable[..., QuickFixPeer]
) -> None:
    peer = connect()
    assert peer.logged_on
    peer.send("5", [])
    peer.expect(lambda m: m.msg_type == "5")
    assert wait_until(lambda: peer.logged_out)
    clean(peer)


def test_logon_with_a_wrong_password_is_refused(
    venue: Venue, connect: Callable[..., QuickFixPeer]
) -> None:
    peer = connect(password="not-the-secret")
    logout = peer.expect(lambda m: m.msg_type == "5")
    assert "refused" in (logout.get(58) or "")
    assert not peer.logged_on
    clean(peer)


def test_test_request_heartbeat_and_a_resend_request_with_its_gap_fill(
    venue: Venue, connect: Callable[..., QuickFixPeer]
) -> None:
    peer = connect()
    peer.send("1", [(112, "are-you-there")])
    beat = peer.expect(lambda m: m.msg_type == "0" and m.get(112) == "are-you-there")
    assert beat.get(112) == "are-you-there"
    peer.send("D", order("resend-1", price=REF - 100))
    report(peer, "resend-1", "0")
    # Everything from 1 again: the Logon and Heartbeat become a gap fill, the report is resent.
    peer.send("2", [(7, "1"), (16, "0")])

    def resent() -> list[Message]:  # QuickFIX takes these itself: they are in its log
        return [m for m in peer.wire_from_exchange() if m.get(43) == "Y"]

    assert wait_until(lambda: len(resent()) == 2)
    gap, report_again = resent()
    assert (gap.msg_type, gap.seq, gap.get(123), gap.get(36)) == ("4", 1, "Y", "3")
    assert (report_again.msg_type, report_again.seq, report_again.get(11)) == ("8", 3, "resend-1")
    assert report_again.get(122)  # OrigSendingTime
    # QuickFIX asked for nothing itself, and refused nothing.
    sent_resends = [m for m in peer.sent_admin if m.msg_type == "2"]
    assert len(sent_resends) == 1  # ours, the one above
    assert [m for m in peer.sent_admin if m.msg_type == "3"] == []


def test_an_unsupported_message_type_gets_a_business_message_reject(
    venue: Venue, connect: Callable[..., QuickFixPeer]
) -> None:
    peer = connect()
    peer.send("R", [(131, "quote-1"), (146, "1"), (55, "FOOLAD")])  # QuoteRequest
    reject = peer.expect(lambda m: m.msg_type == "j")
    assert (reject.get(372), reject.get(380)) == ("R", "3")
    clean(peer)


# ---------------------------------------------------------------------- orders


def test_an_order_accepted_partially_filled_and_filled_by_a_rest_order(
    venue: Venue, connect: Callable[..., QuickFixPeer], tmp_path: Path
) -> None:
    peer = connect()
    peer.send("D", order("ask-1", side="2", qty=300, price=REF))
    accepted = report(peer, "ask-1", "0")
    assert (accepted.get(39), accepted.get(151), accepted.get(14)) == ("0", "300", "0")
    gateway = GatewayProcess(venue.fix.data, venue.engine)
    gateway.start()
    try:
        client_id, secret = venue.credentials[COUNTERPARTY]
        token = httpx.post(
            f"{gateway.base}/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id,
                  "client_secret": secret},
        ).json()["access_token"]  # fmt: skip
        for quantity in (100, 200):
            bought = httpx.post(
                f"{gateway.base}/v1/order",
                json={"symbol": "FOOLAD", "side": "buy", "type": "market", "quantity": quantity,
                      "timeInForce": "ioc"},
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
            assert bought.status_code == 200, bought.text
    finally:
        gateway.stop()
    partial = report(peer, "ask-1", "F")
    assert (partial.get(39), partial.get(32), partial.get(151)) == ("1", "100", "200")
    filled = report(peer, "ask-1", "F")
    assert (filled.get(39), filled.get(14), filled.get(151), filled.get(6)) == (
        "2", "300", "0", f"{REF}.0000",
    )  # fmt: skip
    clean(peer)


def test_cancel_status_and_cancel_of_an_unknown_order(
    venue: Venue, connect: Callable[..., QuickFixPeer]
) -> None:
    peer = connect()
    peer.send("D", order("bid-1", price=REF - 50))
    order_id = report(peer, "bid-1", "0").get(37)
    peer.send("H", [(11, "bid-1"), (55, "FOOLAD"), (54, "1")])
    status = report(peer, "bid-1", "I")
    assert (status.get(37), status.get(39)) == (order_id, "0")
    peer.send("F", [(11, "cxl-1"), (41, "bid-1"), (55, "FOOLAD"), (54, "1"), (60, now())])
    canceled = peer.expect(lambda m: m.msg_type == "8" and m.get(150) == "4")
    assert (canceled.get(11), canceled.get(41), canceled.get(39)) == ("cxl-1", "bid-1", "4")
    peer.send("F", [(11, "cxl-2"), (41, "no-such"), (55, "FOOLAD"), (54, "1"), (60, now())])
    unknown = peer.expect(lambda m: m.msg_type == "9")
    assert (unknown.get(434), unknown.get(102), unknown.get(39)) == ("1", "1", "8")
    clean(peer)


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        (dict(tif="6"), "TimeInForce 6"),  # GTD
        (dict(kind="3"), "OrdType 3"),  # stop
        (dict(kind="4"), "OrdType 4"),  # stop limit
        (dict(side="5"), "Side 5"),  # sell short
    ],
)
def test_an_unsupported_order_characteristic_is_an_order_rejection(
    venue: Venue, connect: Callable[..., QuickFixPeer], fields: dict[str, str], text: str
) -> None:
    """Not a session Reject: ExecType 8, OrdStatus 8, OrdRejReason 11, with Text."""
    peer = connect()
    peer.send("D", order("odd-1", **fields))  # type: ignore[arg-type]
    rejected = report(peer, "odd-1", "8")
    assert (rejected.get(39), rejected.get(103)) == ("8", "11")
    assert text in (rejected.get(58) or "")
    clean(peer)


DRIVEN: dict[RejectReason, tuple[int, Callable[[str], list[tuple[int, str]]]]] = {
    RejectReason.UNKNOWN_SYMBOL: (FUNDED, lambda cl: order(cl, symbol="NOSUCH")),
    RejectReason.UNKNOWN_ACCOUNT: (NOT_OPENED, order),
    RejectReason.ACCOUNT_NOT_OPEN: (SUSPENDED, order),
    RejectReason.INVALID_QUANTITY: (FUNDED, lambda cl: order(cl, qty=0)),
    RejectReason.QUANTITY_ABOVE_MAX: (FUNDED, lambda cl: order(cl, qty=600_000)),
    RejectReason.INVALID_PRICE: (FUNDED, lambda cl: order(cl, price=0)),
    RejectReason.PRICE_OUT_OF_BAND: (FUNDED, lambda cl: order(cl, price=2 * REF)),
    RejectReason.INSTRUMENT_HALTED: (FUNDED, lambda cl: order(cl, symbol=HALTED, price=2_510)),
    RejectReason.INSUFFICIENT_FUNDS: (EMPTY, order),
    RejectReason.INSUFFICIENT_SHARES: (EMPTY, lambda cl: order(cl, side="2")),
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: (FUNDED, lambda cl: order("dup-once", price=REF - 9)),
}
"""Reasons a NewOrderSingle produces, and how."""

NOT_FROM_AN_ORDER: dict[RejectReason, str] = {
    RejectReason.MARKET_CLOSED: "a closed calendar: test_market_closed_is_exchange_closed",
    RejectReason.RISK_LIMIT: "a day's volume first: test_the_daily_limit_is_order_exceeds_limit",
    RejectReason.UNKNOWN_ORDER: "a cancel's reason (OrderCancelReject, tested above)",
    RejectReason.NOT_ORDER_OWNER: "a cancel's reason, answered as an unknown order",
    RejectReason.ORDER_FINAL: "a cancel's reason (too late to cancel)",
    RejectReason.INVALID_AMOUNT: "deposits and withdrawals only (admin API)",
    RejectReason.DUPLICATE_REFERENCE: "deposits and withdrawals only (admin API)",
    RejectReason.ACCOUNT_EXISTS: "account opening only (admin API)",
    RejectReason.SYMBOL_EXISTS: "listing only (the engine's reference data)",
    RejectReason.INVALID_INSTRUMENT: "listing only (the engine's reference data)",
    RejectReason.INVALID_TIME_IN_FORCE: "the FIX layer answers unsupported values itself (103=11)",
    RejectReason.SESSION_ALREADY_OPEN: "session commands come from the engine's calendar",
    RejectReason.SESSION_NOT_OPEN: "session commands come from the engine's calendar",
    RejectReason.INVALID_TRADING_DAY: "session commands come from the engine's calendar",
    RejectReason.INVALID_CLIENT_ORDER_ID: "QuickFIX sends only valid ClOrdIDs; tested raw",
    RejectReason.NO_CHANGE: "account and instrument status changes only (admin API)",
    RejectReason.INVALID_ACCOUNT_ID: "the FIX layer maps Account (1) to the credential's accounts",
    RejectReason.INVALID_SIDE: "the FIX layer answers unsupported values itself (103=11)",
    RejectReason.INVALID_ORDER_TYPE: "the FIX layer answers unsupported values itself (103=11)",
    RejectReason.UNKNOWN_COMMAND: "not an order's reason",
    RejectReason.BALANCE_LIMIT: "a balance near 2^62 (tests/engine/test_balance_bound.py)",
    RejectReason.INVALID_SYMBOL: "QuickFIX sends only valid symbols; the core is tested raw",
    RejectReason.INVALID_REFERENCE: "deposits and withdrawals only (admin API)",
    RejectReason.REJECTION_LIMIT: "10,000 rejections in a day first (tests/core/test_bounds.py)",
}
"""Reasons a NewOrderSingle over FIX cannot produce, and why."""


def test_every_reject_reason_is_driven_or_explained() -> None:
    """A new RejectReason must be placed in one of the two tables (or this fails)."""
    placed = set(DRIVEN) | set(NOT_FROM_AN_ORDER)
    assert [r.name for r in RejectReason if r not in placed] == []
    assert not set(DRIVEN) & set(NOT_FROM_AN_ORDER)


@pytest.mark.parametrize("reason", list(DRIVEN), ids=lambda r: r.name)
def test_each_order_rejection_reaches_the_broker_as_a_fix44_execution_report(
    venue: Venue, connect: Callable[..., QuickFixPeer], reason: RejectReason
) -> None:
    account, build = DRIVEN[reason]
    peer = connect(account)
    cl = f"rej-{reason.name.lower()}"[:40]
    if reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID:
        peer.send("D", build(cl))
        report(peer, "dup-once", "0")
        cl = "dup-once"
    peer.send("D", build(cl))
    rejected = report(peer, cl, "8")
    assert rejected.get(39) == "8"
    assert rejected.get(103) == str(ORD_REJ_REASON[reason].value)
    if reason is not RejectReason.DUPLICATE_CLIENT_ORDER_ID:
        assert rejected.get(58) == reason.name
    clean(peer)


def test_the_daily_limit_is_order_exceeds_limit(
    venue: Venue, connect: Callable[..., QuickFixPeer]
) -> None:
    peer = connect()
    for n in (1, 2):  # 1,000,000 open: the daily limit of one stock
        peer.send("D", order(f"big-{n}", qty=500_000, price=REF - 200))
        report(peer, f"big-{n}", "0")
    peer.send("D", order("over", qty=1, price=REF - 200))
    rejected = report(peer, "over", "8")
    assert (rejected.get(103), rejected.get(58)) == ("3", "RISK_LIMIT")
    clean(peer)


def test_market_closed_is_exchange_closed(tmp_path: Path) -> None:
    """An engine whose calendar has the market closed now (holidays around today)."""
    today = datetime.now(UTC).date()
    calendar = tmp_path / "closed.json"
    days = [(today + timedelta(days=d)).isoformat() for d in range(-2, 3)]
    calendar.write_text(json.dumps({"holidays": days}))
    engine = EngineProcess(tmp_path / "engine", calendar=str(calendar))
    engine.start()
    try:
        data = migrated.data_dir(tmp_path / "fix")
        store = AccountStore(f"sqlite:///{data / 'accounts.db'}")
        credential = store.create_credential(frozenset({"trade", "read"}), (FUNDED,))
        store.engine.dispose()

        async def open_account() -> None:
            client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.5, deadline=30)
            try:
                opened = await client.open_account(f"owner-{FUNDED}")
                assert opened == FUNDED, "a new engine gives account ids 1, 2, ... in order"
                await client.submit(
                    Deposit(account=FUNDED, asset="IRR", amount=10**12, reference="c")
                )
            finally:
                await client.close()

        asyncio.run(open_account())
        (port,) = free_ports(1)
        acceptor = Fix(engine, data, port, {FUNDED: credential})
        acceptor.start()
        peer = QuickFixPeer(credential[1])
        initiator = start(peer, port, credential[0], tmp_path / "quickfix")
        try:
            assert wait_until(lambda: peer.logged_on)
            peer.send("D", order("closed-1"))
            rejected = report(peer, "closed-1", "8")
            assert (rejected.get(103), rejected.get(58)) == ("2", "MARKET_CLOSED")
            clean(peer)
        finally:
            initiator.stop()
            acceptor.stop()
    finally:
        engine.kill(signal.SIGTERM)


def test_l5_fix_cancel_of_another_accounts_order_answers_as_an_unknown_order(
    venue: Venue, connect: Callable[..., QuickFixPeer]
) -> None:
    """Whether an order id belongs to someone else is not the caller's business (review L5)."""
    owner, other = connect(FUNDED), connect(COUNTERPARTY)
    owner.send("D", order("mine-1", price=REF - 70))
    order_id = report(owner, "mine-1", "0").get(37) or ""
    other.send("F", [(11, "steal-1"), (37, order_id), (41, "mine-1"), (55, "FOOLAD"),
                     (54, "1"), (60, now())])  # fmt: skip
    theirs = other.expect(lambda m: m.msg_type == "9")
    other.send("F", [(11, "steal-2"), (37, "999999"), (41, "none"), (55, "FOOLAD"),
                     (54, "1"), (60, now())])  # fmt: skip
    unknown = other.expect(lambda m: m.msg_type == "9")
    fields = (37, 39, 102, 434, 58)
    assert [theirs.get(t) for t in fields] == [unknown.get(t) for t in fields]
    assert theirs.get(58) == "UNKNOWN_ORDER"
    clean(owner)
    clean(other)
