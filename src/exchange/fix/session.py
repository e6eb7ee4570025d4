"""The FIX 4.4 session layer (ours): logon, sequence numbers, heartbeats, resends, rejects.

One `Session` per TCP connection, driven by `receive(message)` and
`tick()`; it returns what to do (send these bytes, hand this application
message to the order layer, close the connection) and never touches a
socket, so every rule is tested without one. The clock is injected.

Rules, as FIX 4.4 sets them:
- The first message must be a Logon with the right CompIDs and a password
  (tag 554) that authenticates the SenderCompID; otherwise Logout + close.
- Every message is checked: required header tags, CompIDs, SendingTime
  within `max_skew`, MsgSeqNum. Too low without PossDupFlag: Logout +
  close. Too high: a ResendRequest for the gap, and the message waits for
  its resend. PossDup duplicates are ignored.
- ResendRequest: application messages are sent again with PossDupFlag and
  OrigSendingTime; session messages are replaced by SequenceReset-GapFill.
- Heartbeats after HeartBtInt of silence; a TestRequest after HeartBtInt
  plus 20 % without input; no answer within another HeartBtInt: close.
- Unsupported message types get a BusinessMessageReject (35=j).
"""

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from exchange.fix.codec import Message, encode, parse, parse_timestamp
from exchange.fix.store import SessionStore

APPLICATION = frozenset({"D", "F", "H"})
"""Message types handed to the order layer."""
SESSION_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})
REQUIRED_HEADER = (8, 9, 35, 49, 56, 34, 52)

# SessionRejectReason (373)
REQUIRED_TAG_MISSING = 1
COMP_ID_PROBLEM = 9
SENDING_TIME_ACCURACY = 10
# BusinessRejectReason (380)
UNSUPPORTED_MESSAGE_TYPE = 3


@dataclass(frozen=True)
class Send:
    raw: bytes


@dataclass(frozen=True)
class Deliver:
    message: Message


@dataclass(frozen=True)
class Close:
    reason: str


Action = Send | Deliver | Close
Authenticate = Callable[[str, str], bool]
"""(SenderCompID, password) -> may this counterparty log on?"""


class Session:
    def __init__(
        self,
        store: SessionStore,
        authenticate: Authenticate,
        *,
        our_id: str = "EXCHANGE",
        clock: Callable[[], float] = time.time,
        logon_timeout: float = 10.0,
        max_skew: float = 120.0,
    ) -> None:
        self.store = store
        self.authenticate = authenticate
        self.our_id = our_id
        self.clock = clock
        self.logon_timeout = logon_timeout
        self.max_skew = max_skew
        self.client_id: str | None = None
        self.heartbeat = 30.0
        self.next_in = 1
        self.next_out = 1
        self.closed = False
        self.resend_requested = False
        self.connected_at = clock()
        self.last_in = self.last_out = self.connected_at
        self.test_request_sent: float | None = None
        self._test_ids = itertools.count(1)

    @property
    def active(self) -> bool:
        return self.client_id is not None and not self.closed

    # -------------------------------------------------------------- sending

    def send(
        self, msg_type: str, body: list[tuple[int, str | int]], *, event: int | None = None
    ) -> Send:
        """Number, store, then hand out a message; `event`: the engine event it reports."""
        assert self.client_id is not None
        seq = self.next_out
        raw = encode(msg_type, self.our_id, self.client_id, seq, body)
        self.store.record_sent(self.client_id, seq, msg_type, raw, event)
        self.next_out = seq + 1
        self.last_out = self.clock()
        return Send(raw)

    def _logout(self, text: str) -> list[Action]:
        actions: list[Action] = []
        if self.client_id is not None:
            actions.append(self.send("5", [(58, text[:200])]))
        else:  # not logged on: an unnumbered answer, nothing to keep
            target = "UNKNOWN"
            actions.append(Send(encode("5", self.our_id, target, 1, [(58, text[:200])])))
        self.closed = True
        actions.append(Close(text))
        return actions

    def _reject(self, ref: Message, reason: int, text: str, tag: int | None = None) -> Send:
        body: list[tuple[int, str | int]] = [(45, ref.seq), (373, reason), (58, text[:200])]
        if ref.msg_type:
            body.insert(1, (372, ref.msg_type))
        if tag is not None:
            body.insert(1, (371, tag))
        return self.send("3", body)

    def reject(self, ref: Message, reason: int, text: str, tag: int | None = None) -> Send:
        """A session-level Reject (35=3) of an application message the order layer refused."""
        return self._reject(ref, reason, text, tag)

    def business_reject(self, ref: Message, reason: int, text: str) -> Send:
        return self.send("j", [(45, ref.seq), (372, ref.msg_type), (380, reason), (58, text[:200])])

    # ------------------------------------------------------------ receiving

    def receive(self, message: Message) -> list[Action]:
        if self.closed:
            return []
        self.last_in = self.clock()
        self.test_request_sent = None
        if self.client_id is None:
            return self._logon(message)
        missing = [t for t in REQUIRED_HEADER if t not in message.fields]
        if missing or message.seq <= 0:
            return [self._reject(message, REQUIRED_TAG_MISSING, f"missing header tag {missing}")]
        if message.get(49) != self.client_id or message.get(56) != self.our_id:
            return [
                self._reject(message, COMP_ID_PROBLEM, "wrong CompID"),
                *self._logout("CompID problem"),
            ]
        problem = self._sending_time_problem(message)
        if problem:
            return [self._reject(message, SENDING_TIME_ACCURACY, problem), *self._logout(problem)]
        return self._sequenced(message)

    def _sending_time_problem(self, message: Message) -> str | None:
        sent_at = parse_timestamp(message.get(52) or "")
        if sent_at is None:
            return "SendingTime is not a UTC timestamp"
        if abs(sent_at.timestamp() - self.clock()) > self.max_skew:
            return "SendingTime accuracy problem"
        return None

    def _logon(self, message: Message) -> list[Action]:
        if message.msg_type != "A":
            return self._logout("the first message must be a Logon")
        sender = message.get(49) or ""
        if not sender or message.get(56) != self.our_id:
            return self._logout("wrong CompIDs")
        if not self.authenticate(sender, message.get(554) or ""):
            return self._logout("logon refused")
        problem = self._sending_time_problem(message)
        if problem:
            return self._logout(problem)
        interval = message.get(108) or ""
        if not interval.isdigit() or not 1 <= int(interval) <= 300:
            return self._logout("HeartBtInt must be 1 to 300 seconds")
        reset = message.get(141) == "Y"
        if reset:
            self.store.reset(sender)
        self.next_in, self.next_out = self.store.sequences(sender)
        if message.seq < self.next_in:
            self.client_id = sender
            return self._logout(f"MsgSeqNum too low, expecting {self.next_in}")
        self.client_id = sender
        self.heartbeat = float(int(interval))
        body: list[tuple[int, str | int]] = [(98, 0), (108, int(interval))]
        if reset:
            body.append((141, "Y"))
        actions: list[Action] = [self.send("A", body)]
        if message.seq > self.next_in:
            actions.append(self._ask_resend())
        else:
            self._advance()
        return actions

    def _advance(self) -> None:
        assert self.client_id is not None
        self.next_in += 1
        self.store.set_next_in(self.client_id, self.next_in)

    def _ask_resend(self) -> Send:
        self.resend_requested = True
        return self.send("2", [(7, self.next_in), (16, 0)])

    def _sequenced(self, message: Message) -> list[Action]:
        kind = message.msg_type
        seq = message.seq
        if kind == "4":
            return self._sequence_reset(message)
        if seq < self.next_in:
            if message.get(43) == "Y":
                return []  # a duplicate we already have
            return self._logout(f"MsgSeqNum too low, expecting {self.next_in} but received {seq}")
        if seq > self.next_in:
            if kind == "5":
                return self._logout("logout")
            return [] if self.resend_requested else [self._ask_resend()]
        self._advance()
        self.resend_requested = False
        if kind == "0":
            return []
        if kind == "1":
            return [self.send("0", [(112, message.get(112) or "")])]
        if kind == "2":
            return self._resend(message)
        if kind == "5":
            return self._logout("logout acknowledged")
        if kind in ("3", "A"):
            return []
        if kind in APPLICATION:
            return [Deliver(message)]
        return [
            self.send("j", [(45, seq), (372, kind), (380, UNSUPPORTED_MESSAGE_TYPE),
                            (58, f"message type {kind!r} is not supported")]),
        ]  # fmt: skip

    def _sequence_reset(self, message: Message) -> list[Action]:
        new_seq = message.get(36) or ""
        if not new_seq.isdigit():
            return [self._reject(message, REQUIRED_TAG_MISSING, "NewSeqNo missing")]
        gap_fill = message.get(123) == "Y"
        if gap_fill and message.seq < self.next_in and message.get(43) != "Y":
            return self._logout(f"MsgSeqNum too low, expecting {self.next_in}")
        if int(new_seq) > self.next_in or not gap_fill:
            assert self.client_id is not None
            self.next_in = int(new_seq)
            self.store.set_next_in(self.client_id, self.next_in)
            self.resend_requested = False
        return []

    def _resend(self, request: Message) -> list[Action]:
        assert self.client_id is not None
        begin_raw, end_raw = request.get(7) or "", request.get(16) or ""
        if not begin_raw.isdigit() or not end_raw.isdigit():
            return [self._reject(request, REQUIRED_TAG_MISSING, "BeginSeqNo/EndSeqNo missing")]
        begin = max(1, int(begin_raw))
        end = int(end_raw) or self.next_out - 1
        end = min(end, self.next_out - 1)
        kept = {m.seq: m for m in self.store.sent_between(self.client_id, begin, end)}
        actions: list[Action] = []
        gap_start: int | None = None
        for seq in range(begin, end + 1):
            original = kept.get(seq)
            if original is None or original.msg_type in SESSION_TYPES:
                gap_start = seq if gap_start is None else gap_start
                continue
            if gap_start is not None:
                actions.append(self._gap_fill(gap_start, seq))
                gap_start = None
            old = parse(original.raw)
            body = [
                (t, v.decode())
                for t, v in old.fields.items()
                if t not in (8, 9, 10, 34, 35, 43, 49, 52, 56, 122)
            ]
            raw = encode(original.msg_type, self.our_id, self.client_id, seq, body,  # type: ignore[arg-type]
                         poss_dup=old.get(52) or "")  # fmt: skip
            actions.append(Send(raw))
        if gap_start is not None:
            actions.append(self._gap_fill(gap_start, end + 1))
        self.last_out = self.clock()
        return actions

    def _gap_fill(self, first: int, next_seq: int) -> Send:
        assert self.client_id is not None
        now = datetime.now(UTC)
        raw = encode("4", self.our_id, self.client_id, first, [(123, "Y"), (36, next_seq)],
                     poss_dup=now.strftime("%Y%m%d-%H:%M:%S.000"))  # fmt: skip
        return Send(raw)

    # ---------------------------------------------------------------- timer

    def tick(self) -> list[Action]:
        if self.closed:
            return []
        now = self.clock()
        if self.client_id is None:
            if now - self.connected_at > self.logon_timeout:
                self.closed = True
                return [Close("no Logon in time")]
            return []
        if self.test_request_sent is not None and now - self.test_request_sent > self.heartbeat:
            return self._logout("no answer to TestRequest")
        actions: list[Action] = []
        if self.test_request_sent is None and now - self.last_in > self.heartbeat * 1.2:
            self.test_request_sent = now
            actions.append(self.send("1", [(112, f"T{next(self._test_ids)}")]))
        elif now - self.last_out >= self.heartbeat:
            actions.append(self.send("0", []))
        return actions
