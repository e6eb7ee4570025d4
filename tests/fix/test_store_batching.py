"""The session store's batched writes: a turn's messages stored in one commit before any is
written, and after a SIGKILL every message that was sent can be resent."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exchange.fix.codec import Message, parse
from exchange.fix.outbox import Outbox
from exchange.fix.session import Send, Session
from exchange.fix.store import SessionStore
from tests import migrated
from tests.fix.client import FixClient
from tests.fix.test_gateway import (
    REF,
    Fix,
    fix,  # noqa: F401 (the fixture used below)
    order,
)
from tests.fix.test_session import Clock, logon
from tests.pg import postgres_schema

PASSWORD = "s3cret"


class Peer:
    """A socket stand-in that checks, at each write, that the database already holds it."""

    def __init__(self, db: Path, comp_id: str, log: list[str]) -> None:
        self.db = db
        self.comp_id = comp_id
        self.log = log
        self.received: list[Message] = []

    def deliver(self, data: bytes) -> None:
        messages = [parse(b"8=FIX.4.4\x01" + part) for part in data.split(b"8=FIX.4.4\x01")[1:]]
        with sqlite3.connect(self.db) as db:  # another connection: only what is committed
            kept = {seq for (seq,) in db.execute(
                "SELECT seq FROM fix_sent WHERE comp_id = ?", (self.comp_id,))}  # fmt: skip
            (next_out,) = db.execute(
                "SELECT next_out FROM fix_sessions WHERE comp_id = ?", (self.comp_id,)
            ).fetchone()
        for message in messages:
            assert message.seq < next_out, "a message is written before its number is stored"
            if message.msg_type == "8":
                assert message.seq in kept, "a report is written before it is stored"
        self.log.append(f"write {self.comp_id} {len(messages)}")
        self.received += messages


def _session(store: SessionStore, comp_id: str) -> Session:
    session = Session(store, lambda who, password: password == PASSWORD, clock=Clock())
    actions = session.receive(logon(sender=comp_id))
    assert [type(a) for a in actions] == [Send]
    return session


def test_a_turns_messages_are_stored_in_one_commit_before_any_is_written(tmp_path: Path) -> None:
    db = tmp_path / "fix.db"
    store = SessionStore(migrated.fix_db(f"sqlite:///{db}"))
    turns: list[Callable[[], None]] = []
    log: list[str] = []

    def commit() -> None:
        log.append("commit")
        store.commit()

    outbox = Outbox(commit, schedule=turns.append)
    sessions = {name: _session(store, name) for name in ("CL1", "CL2")}
    peers = {name: Peer(db, name, log) for name in sessions}
    store.commit()  # the logons, as if in an earlier turn
    commits = store.commits
    for n in range(3):  # one turn: reports for both sessions, interleaved
        for name, session in sessions.items():
            sent = session.send("8", [(37, n), (11, f"{name}-{n}")], event=10 + n)
            outbox.put(peers[name], sent.raw)
    assert store.pending and len(turns) == 1  # nothing written yet, one flush scheduled
    turns.pop()()  # the end of the turn
    assert log == ["commit", "write CL1 3", "write CL2 3"]
    assert store.commits == commits + 1  # one transaction for the six messages
    for name, peer in peers.items():
        assert [(m.seq, m.get(11)) for m in peer.received] == [
            (2, f"{name}-0"), (3, f"{name}-1"), (4, f"{name}-2"),
        ]  # fmt: skip
        assert store.last_event(name) == 12
    store.close()


def test_the_inbound_sequence_is_stored_with_the_next_commit(tmp_path: Path) -> None:
    db = tmp_path / "fix.db"
    store = SessionStore(migrated.fix_db(f"sqlite:///{db}"))
    session = _session(store, "CL1")
    store.commit()
    session.receive(logon(seq=2, sender="CL1"))  # a Logon after logon: ignored, but numbered
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT next_in FROM fix_sessions").fetchone() == (2,)  # lazily
    store.commit()
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT next_in FROM fix_sessions").fetchone() == (3,)
    store.close()


def _answer_resend_requests(client: FixClient, message: Message) -> bool:
    """Gap-fill what the acceptor asks for (its inbound number is stored lazily)."""
    if message.msg_type != "2":
        return False
    begin = int(message.get(7) or "1")
    client.send("4", [(123, "Y"), (36, client.seq)], seq=begin, poss_dup=message.get(52))
    client.seq = max(client.seq, begin + 1)
    return True


def _collect(client: FixClient, until: Callable[[Message], bool]) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        message = client.receive(1.0)
        if message is None:
            continue
        got.append(message)
        if until(message):
            return got
    seen = [(m.seq, m.msg_type, m.get(11), m.get(150), m.get(58)) for m in got]
    raise AssertionError(f"no end in time: {seen}")


def test_after_a_sigkill_a_resend_request_gets_every_message_that_was_sent(fix: Fix) -> None:  # noqa: F811
    seller, buyer = fix.client(1), fix.client(2)
    received: dict[int, Message] = {}
    try:
        answer = seller.logon(reset=True)
        assert answer.msg_type == "A" and buyer.logon().msg_type == "A"
        received[answer.seq] = answer
        for n in range(20):
            seller.send("D", order(f"ask-{n}", "2", 10, REF))
        messages = _collect(seller, lambda m: m.get(150) == "0" and m.get(11) == "ask-19")
        buyer.send("D", order("sweep", "1", 95, REF, tif="3"))  # fills 9 asks and a half
        messages += _collect(seller, lambda m: m.get(150) == "F" and m.get(11) == "ask-9")
        for message in messages:
            received[message.seq] = message
        reports = [m for m in messages if m.msg_type == "8"]
        assert len(reports) >= 30  # 20 New, 10 fills: all written (so stored) before the kill
    finally:
        buyer.close()
    fix.stop(signal.SIGKILL)
    seller.close()
    fix.start()
    back = fix.client(1, seq=seller.seq)
    answer = back.logon()
    assert answer.msg_type == "A"
    assert answer.seq > max(received), "a sequence number was sent twice"
    asked = back.receive(1.0)  # the acceptor may ask for a few of ours first (stored lazily)
    if asked is not None and not _answer_resend_requests(back, asked):
        back.pending.insert(0, asked)
    back.send("2", [(7, 1), (16, 0)])
    resent: dict[int, Message] = {}

    def done(message: Message) -> bool:
        if _answer_resend_requests(back, message):
            return False
        if message.get(43) == "Y" and message.msg_type in ("8", "4"):
            if message.msg_type == "4":
                for seq in range(message.seq, int(message.get(36) or "0")):
                    resent[seq] = message
            else:
                resent[message.seq] = message
        return all(seq in resent for seq in received)

    _collect(back, done)
    for seq, original in received.items():
        again = resent[seq]
        if original.msg_type == "8":  # every report, again, the same
            assert again.msg_type == "8" and again.get(43) == "Y"
            assert (again.get(17), again.get(11), again.get(150)) == (
                original.get(17), original.get(11), original.get(150),
            )  # fmt: skip
        else:  # session messages: gap filled
            assert again.msg_type == "4" and again.get(123) == "Y"
    back.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield migrated.fix_db(f"sqlite:///{tmp_path / 'fix.db'}")
    else:
        with postgres_schema() as url:
            yield migrated.fix_db(url)


def test_batched_writes_read_back_the_same_on_sqlite_and_postgresql(store_url: str) -> None:
    """The commit runs compiled statements on the driver's own connection: both dialects."""
    store = SessionStore(store_url)
    first = _session(store, "CL1")
    first.send("8", [(37, 1), (11, "a")], event=7)
    first.send("0", [])  # a heartbeat: numbered, not kept
    first.send("8", [(37, 2), (11, "b")], event=9)
    store.commit()
    first.receive(logon(seq=2, sender="CL1"))  # the next inbound number, stored lazily
    store.close()
    again = SessionStore(store_url)  # as after a restart
    assert again.sequences("CL1") == (3, 5) and again.last_event("CL1") == 9
    kept = again.sent_between("CL1", 1, 10)
    assert [(m.seq, parse(m.raw).get(11)) for m in kept] == [(2, "a"), (4, "b")]
    assert again.checkpoint() >= (0, 0)
    again.reset("CL1")
    assert again.sequences("CL1") == (1, 1) and again.last_event("CL1") == 9
    again.close()


def test_commits_leave_the_write_ahead_log_to_the_checkpoint_thread(tmp_path: Path) -> None:
    """A commit never copies the log into the database (that waits for the disk); the
    acceptor's thread does, every second."""
    store = SessionStore(migrated.fix_db(f"sqlite:///{tmp_path / 'fix.db'}"))
    session = _session(store, "CL1")
    for n in range(2_000):  # well past SQLite's automatic checkpoint at 1,000 pages
        session.send("8", [(37, n), (11, f"r{n}")])
        store.commit()
    frames, copied = store.checkpoint()
    assert frames > 1_000 and copied == frames
    assert len(store.sent_between("CL1", 1, 10**9)) == 2_000
    store.close()
