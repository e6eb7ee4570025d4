"""The FIX session rules, without a socket: logon, sequences, resends, heartbeats, rejects."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from exchange.fix.codec import Message, encode, parse, timestamp
from exchange.fix.session import Close, Deliver, Send, Session, Stream
from exchange.fix.store import SessionStore
from tests import migrated

PASSWORD = "s3cret"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(migrated.fix_db(f"sqlite:///{tmp_path / 'fix.db'}"))


def new_session(store: SessionStore, clock: Clock) -> Session:
    return Session(store, lambda who, password: who == "CL1" and password == PASSWORD, clock=clock)


def msg(kind: str, seq: int, body: list[tuple[int, Any]] | None = None, **header: Any) -> Message:
    raw = encode(kind, header.get("sender", "CL1"), header.get("target", "EXCHANGE"), seq,
                 body or [], sending_time=header.get("time"),
                 poss_dup=header.get("poss_dup"))  # fmt: skip
    return parse(raw)


def logon(seq: int = 1, password: str = PASSWORD, **extra: Any) -> Message:
    body: list[tuple[int, Any]] = [(98, 0), (108, 30), (554, password)]
    body += [(141, "Y")] if extra.pop("reset", False) else []
    return msg("A", seq, body, **extra)


def sent(actions: list[Any]) -> list[Message]:
    """What goes out, a resend's stream included."""
    out = []
    for action in actions:
        if isinstance(action, Stream):
            out += [parse(send.raw) for send in action.sends]
        elif isinstance(action, Send):
            out.append(parse(action.raw))
    return out


def types(actions: list[Any]) -> list[str]:
    return [m.msg_type for m in sent(actions)]


def test_logon_then_application_messages_are_delivered_in_order(store: SessionStore) -> None:
    session = new_session(store, Clock())
    reply = sent(session.receive(logon()))
    assert [(m.msg_type, m.seq, m.get(108)) for m in reply] == [("A", 1, "30")]
    order = msg("D", 2, [(11, "c1"), (55, "FOOLAD")])
    (action,) = session.receive(order)
    assert isinstance(action, Deliver) and action.message.get(11) == "c1"
    assert store.sequences("CL1") == (3, 2)


@pytest.mark.parametrize(
    ("first", "why"),
    [
        (msg("D", 1), "Logon"),
        (logon(password="wrong"), "refused"),
        (logon(target="OTHER"), "CompID"),
        (logon(time="20200101-00:00:00.000"), "SendingTime"),
    ],
)
def test_a_bad_first_message_is_answered_with_logout_and_closed(
    store: SessionStore, first: Message, why: str
) -> None:
    actions = new_session(store, Clock()).receive(first)
    assert types(actions) == ["5"] and isinstance(actions[-1], Close)
    assert why.lower() in actions[-1].reason.lower()


def test_sequence_too_low_logs_out_too_high_asks_for_a_resend(store: SessionStore) -> None:
    session = new_session(store, Clock())
    session.receive(logon())
    session.receive(msg("0", 2))
    ask = session.receive(msg("D", 5, [(11, "late")]))
    (request,) = sent(ask)
    assert (request.msg_type, request.get(7), request.get(16)) == ("2", "3", "0")
    assert session.receive(msg("D", 6)) == []  # one ResendRequest for the gap, not one per message
    # The counterparty resends 3..5 (possdup), then continues.
    assert session.receive(msg("0", 3, poss_dup=timestamp())) == []
    assert session.receive(msg("4", 4, [(123, "Y"), (36, 5)], poss_dup=timestamp())) == []
    (delivered,) = session.receive(msg("D", 5, [(11, "late")], poss_dup=timestamp()))
    assert isinstance(delivered, Deliver)
    assert session.receive(msg("D", 2, poss_dup=timestamp())) == []  # an old duplicate: ignored
    actions = session.receive(msg("D", 3))  # too low and not a duplicate
    assert types(actions) == ["5"] and isinstance(actions[-1], Close)


def test_resend_request_replays_application_messages_and_gap_fills_the_rest(
    store: SessionStore,
) -> None:
    session = new_session(store, Clock())
    session.receive(logon())  # our 1: Logon
    session.send("8", [(37, "1"), (11, "a")])  # 2
    session.send("0", [])  # 3: a heartbeat
    session.send("8", [(37, "2"), (11, "b")])  # 4
    replay = sent(session.receive(msg("2", 2, [(7, 1), (16, 0)])))
    assert [(m.msg_type, m.seq, m.get(43), m.get(36)) for m in replay] == [
        ("4", 1, "Y", "2"),  # the Logon: gap filled
        ("8", 2, "Y", None),
        ("4", 3, "Y", "4"),
        ("8", 4, "Y", None),
    ]
    assert replay[1].get(11) == "a" and replay[1].get(122) is not None


def test_sequences_and_kept_messages_survive_a_new_connection(store: SessionStore) -> None:
    first = new_session(store, Clock())
    first.receive(logon())
    first.send("8", [(11, "kept")])
    second = new_session(store, Clock())  # the same store, as after a gateway restart
    reply = sent(second.receive(logon(seq=2)))
    assert reply[0].seq == 3  # our numbering continues
    replay = sent(second.receive(msg("2", 3, [(7, 2), (16, 2)])))
    assert [(m.seq, m.get(11)) for m in replay] == [(2, "kept")]
    third = new_session(store, Clock())
    assert sent(third.receive(logon(seq=1, reset=True)))[0].seq == 1  # ResetSeqNumFlag


def test_heartbeats_test_requests_and_silence(store: SessionStore) -> None:
    clock = Clock()
    session = new_session(store, clock)
    session.receive(logon())
    clock.now += 30
    assert types(session.tick()) == ["0"]
    clock.now += 7  # 37 s without input > 30 x 1.2
    (test_request,) = sent(session.tick())
    assert test_request.msg_type == "1"
    answer = session.receive(msg("0", 2, [(112, test_request.get(112))]))
    assert answer == [] and session.test_request_sent is None
    assert types(session.receive(msg("1", 3, [(112, "ping")]))) == ["0"]
    clock.now += 37
    session.tick()  # TestRequest
    clock.now += 31
    actions = session.tick()
    assert isinstance(actions[-1], Close) and "TestRequest" in actions[-1].reason


def test_no_logon_in_time_closes(store: SessionStore) -> None:
    clock = Clock()
    session = new_session(store, clock)
    clock.now += 11
    (action,) = session.tick()
    assert isinstance(action, Close)


def test_rejects_for_bad_headers_and_unsupported_types(store: SessionStore) -> None:
    clock = Clock()
    session = new_session(store, clock)
    session.receive(logon())
    business = sent(session.receive(msg("V", 2)))
    assert [(m.msg_type, m.get(372), m.get(380)) for m in business] == [("j", "V", "3")]
    skewed = session.receive(msg("D", 3, time="20200101-00:00:00.000"))
    assert types(skewed) == ["3", "5"] and isinstance(skewed[-1], Close)


def test_a_wrong_sender_after_logon_is_rejected_and_logged_out(store: SessionStore) -> None:
    session = new_session(store, Clock())
    session.receive(logon())
    actions = session.receive(msg("D", 2, sender="SOMEONE"))
    assert types(actions) == ["3", "5"] and isinstance(actions[-1], Close)
    assert sent(actions)[0].get(373) == "9"


# ------------------------------------------------- security review (H4, L2)


def _kept(store: SessionStore) -> list[tuple[int, str]]:
    return [(m.seq, m.msg_type) for m in store.sent_between("CL1", 1, 10**18)]


def test_h4_session_messages_are_not_kept_and_the_store_is_trimmed(tmp_path: Path) -> None:
    url = migrated.fix_db(f"sqlite:///{tmp_path / 'fix.db'}")
    store = SessionStore(url, keep_sent=100)
    session = new_session(store, Clock())
    session.receive(logon())
    for n in range(2_500):
        session.send("0", []) if n % 2 else session.send("8", [(11, f"r{n}")])
    kept = _kept(store)
    assert {kind for _, kind in kept} == {"8"}  # no Logon, no Heartbeat
    assert len(kept) <= 100 + 1_000  # trimmed every 1,000 sends to the last 100
    assert kept[-1][0] == session.next_out - 2  # the newest report is kept


@pytest.mark.timeout(60)
def test_h4_a_resend_costs_the_messages_kept_not_the_range_asked(store: SessionStore) -> None:
    """On 56b90ba the acceptor walked every number of the range on the shared event loop."""
    session = new_session(store, Clock())
    session.receive(logon())
    session.send("8", [(11, "a")])  # 2
    session.next_out = 10**12  # a session that has sent a great deal
    actions = session.receive(msg("2", 2, [(7, 1), (16, 0)]))
    assert len(actions) == 1 and isinstance(actions[0], Stream)  # written page by page
    replay = sent(actions)
    assert [(m.msg_type, m.seq, m.get(36)) for m in replay] == [
        ("4", 1, "2"),
        ("8", 2, None),
        ("4", 3, str(10**12)),
    ]


def test_h4_test_requests_are_rate_limited_and_their_id_bounded(store: SessionStore) -> None:
    clock = Clock()
    session = new_session(store, clock)
    session.receive(logon())
    beat = sent(session.receive(msg("1", 2, [(112, "x" * 4_000)])))[0]
    assert beat.msg_type == "0" and len(beat.get(112) or "") == 64
    replies = [types(session.receive(msg("1", seq, [(112, "t")]))) for seq in range(3, 40)]
    assert ["5"] in replies  # a flood of TestRequests (each costs a reply) is logged out
    assert session.closed


def test_l2_sequence_reset_cannot_lower_the_expected_number(store: SessionStore) -> None:
    session = new_session(store, Clock())
    session.receive(logon())
    for seq in range(2, 6):
        session.receive(msg("0", seq))
    assert session.next_in == 6
    reply = sent(session.receive(msg("4", 6, [(36, 2)])))  # reset mode, lower
    assert [(m.msg_type, m.get(373), m.get(371)) for m in reply] == [("3", "5", "36")]
    assert session.next_in == 6 and store.sequences("CL1")[0] == 6
