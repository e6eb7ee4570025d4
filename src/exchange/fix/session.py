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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from exchange.fix.codec import Message, encode, parse, parse_timestamp
from exchange.fix.store import SessionStore
from exchange.fix.vocabulary import (
    BusinessRejectReason,
    EncryptMethod,
    MsgType,
    SessionRejectReason,
    Tag,
    YesNo,
)

APPLICATION = frozenset(
    {MsgType.NEW_ORDER_SINGLE, MsgType.ORDER_CANCEL_REQUEST, MsgType.ORDER_STATUS_REQUEST}
)
"""Message types handed to the order layer."""
SESSION_TYPES = frozenset(
    {MsgType.HEARTBEAT, MsgType.TEST_REQUEST, MsgType.RESEND_REQUEST, MsgType.REJECT,
     MsgType.SEQUENCE_RESET, MsgType.LOGOUT, MsgType.LOGON}
)  # fmt: skip
REQUIRED_HEADER = (
    Tag.BEGIN_STRING, Tag.BODY_LENGTH, Tag.MSG_TYPE, Tag.SENDER_COMP_ID, Tag.TARGET_COMP_ID,
    Tag.MSG_SEQ_NUM, Tag.SENDING_TIME,
)  # fmt: skip
HEADER_AND_TRAILER = frozenset(
    {*REQUIRED_HEADER, Tag.CHECK_SUM, Tag.POSS_DUP_FLAG, Tag.ORIG_SENDING_TIME}
)
"""Written anew when a message is sent again."""
MAX_TEST_REQ_ID = 64
"""A TestReqID is echoed in the Heartbeat: at most this many characters of it (H4)."""
MAX_SEQ_DIGITS = 18
RESEND_PAGE = 500
"""Kept messages read from the store at a time when answering a ResendRequest."""
SESSION_REQUESTS_PER_SECOND = 5.0
SESSION_REQUESTS_BURST = 20.0
"""TestRequests and ResendRequests a counterparty may send (each costs us a reply or a
resend): beyond, it is logged out."""


@dataclass(frozen=True)
class Send:
    raw: bytes


@dataclass(frozen=True)
class Deliver:
    message: Message


@dataclass(frozen=True)
class Close:
    reason: str


@dataclass(frozen=True)
class Stream:
    """Sends produced one by one (a resend): the server writes them with pauses for the
    socket to drain, so a long resend never holds the loop that serves every session."""

    sends: Iterator[Send]


Action = Send | Deliver | Close | Stream
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
        self._requests = SESSION_REQUESTS_BURST
        self._requests_at = self.connected_at

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
        keep = msg_type not in SESSION_TYPES  # a resend gap-fills session messages anyway
        self.store.record_sent(self.client_id, seq, msg_type, raw, event, keep=keep)
        self.next_out = seq + 1
        self.last_out = self.clock()
        return Send(raw)

    def _logout(self, text: str, to: str | None = None) -> list[Action]:
        """Logout and close; before a Logon succeeded, an unnumbered Logout to `to` (the
        SenderCompID the counterparty gave, so its engine takes the Logout as its own)."""
        actions: list[Action] = []
        if self.client_id is not None:
            actions.append(self.send(MsgType.LOGOUT, [(Tag.TEXT, text[:200])]))
        else:  # not logged on: an unnumbered answer, nothing to keep
            target = to[:64] if to and to.isascii() and to.isprintable() else "UNKNOWN"
            body: list[tuple[int, str | int]] = [(Tag.TEXT, text[:200])]
            actions.append(Send(encode(MsgType.LOGOUT, self.our_id, target, 1, body)))
        self.closed = True
        actions.append(Close(text))
        return actions

    def _reject(self, ref: Message, reason: int, text: str, tag: int | None = None) -> Send:
        body: list[tuple[int, str | int]] = [
            (Tag.REF_SEQ_NUM, ref.seq),
            (Tag.SESSION_REJECT_REASON, reason),
            (Tag.TEXT, text[:200]),
        ]
        if ref.msg_type:
            body.insert(1, (Tag.REF_MSG_TYPE, ref.msg_type))
        if tag is not None:
            body.insert(1, (Tag.REF_TAG_ID, tag))
        return self.send(MsgType.REJECT, body)

    def logout(self, text: str) -> list[Action]:
        """End the session from our side (a revoked credential): Logout, then close."""
        return [] if self.closed else self._logout(text)

    def refuse(self, text: str, logon: Message) -> Send:
        """An unnumbered Logout for a Logon that is not even checked (too many at once)."""
        sender = logon.get(Tag.SENDER_COMP_ID) or ""
        target = sender[:64] if sender.isascii() and sender.isprintable() and sender else "UNKNOWN"
        return Send(encode(MsgType.LOGOUT, self.our_id, target, 1, [(Tag.TEXT, text[:200])]))

    def reject(self, ref: Message, reason: int, text: str, tag: int | None = None) -> Send:
        """A session-level Reject (35=3) of an application message the order layer refused."""
        return self._reject(ref, reason, text, tag)

    def business_reject(self, ref: Message, reason: int, text: str) -> Send:
        return self.send(
            MsgType.BUSINESS_MESSAGE_REJECT,
            [(Tag.REF_SEQ_NUM, ref.seq), (Tag.REF_MSG_TYPE, ref.msg_type),
             (Tag.BUSINESS_REJECT_REASON, reason), (Tag.TEXT, text[:200])],
        )  # fmt: skip

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
            return [
                self._reject(
                    message, SessionRejectReason.REQUIRED_TAG_MISSING, f"missing header {missing}"
                )
            ]
        if (
            message.get(Tag.SENDER_COMP_ID) != self.client_id
            or message.get(Tag.TARGET_COMP_ID) != self.our_id
        ):
            return [
                self._reject(message, SessionRejectReason.COMP_ID_PROBLEM, "wrong CompID"),
                *self._logout("CompID problem"),
            ]
        problem = self._sending_time_problem(message)
        if problem:
            reject = self._reject(
                message, SessionRejectReason.SENDING_TIME_ACCURACY_PROBLEM, problem
            )
            return [reject, *self._logout(problem)]
        return self._sequenced(message)

    def _sending_time_problem(self, message: Message) -> str | None:
        sent_at = parse_timestamp(message.get(Tag.SENDING_TIME) or "")
        if sent_at is None:
            return "SendingTime is not a UTC timestamp"
        if abs(sent_at.timestamp() - self.clock()) > self.max_skew:
            return "SendingTime accuracy problem"
        return None

    def _logon(self, message: Message) -> list[Action]:
        if message.msg_type != MsgType.LOGON:
            return self._logout("the first message must be a Logon")
        sender = message.get(Tag.SENDER_COMP_ID) or ""
        if not sender or message.get(Tag.TARGET_COMP_ID) != self.our_id:
            return self._logout("wrong CompIDs")
        if not self.authenticate(sender, message.get(Tag.PASSWORD) or ""):
            return self._logout("logon refused", to=sender)
        problem = self._sending_time_problem(message)
        if problem:
            return self._logout(problem)
        interval = message.get(Tag.HEART_BT_INT) or ""
        if not (interval.isascii() and interval.isdigit()) or not 1 <= int(interval[:4]) <= 300:
            return self._logout("HeartBtInt must be 1 to 300 seconds")
        reset = message.get(Tag.RESET_SEQ_NUM_FLAG) == YesNo.YES
        if reset:
            self.store.reset(sender)
        self.next_in, self.next_out = self.store.sequences(sender)
        if message.seq < self.next_in:
            self.client_id = sender
            return self._logout(f"MsgSeqNum too low, expecting {self.next_in}")
        self.client_id = sender
        self.heartbeat = float(int(interval))
        body: list[tuple[int, str | int]] = [
            (Tag.ENCRYPT_METHOD, EncryptMethod.NONE),
            (Tag.HEART_BT_INT, int(interval)),
        ]
        if reset:
            body.append((Tag.RESET_SEQ_NUM_FLAG, YesNo.YES))
        actions: list[Action] = [self.send(MsgType.LOGON, body)]
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
        return self.send(
            MsgType.RESEND_REQUEST, [(Tag.BEGIN_SEQ_NO, self.next_in), (Tag.END_SEQ_NO, 0)]
        )

    def _sequenced(self, message: Message) -> list[Action]:
        kind = message.msg_type
        seq = message.seq
        if kind == MsgType.SEQUENCE_RESET:
            return self._sequence_reset(message)
        if seq < self.next_in:
            if message.get(Tag.POSS_DUP_FLAG) == YesNo.YES:
                return []  # a duplicate we already have
            return self._logout(f"MsgSeqNum too low, expecting {self.next_in} but received {seq}")
        if seq > self.next_in:
            if kind == MsgType.LOGOUT:
                return self._logout("logout")
            return [] if self.resend_requested else [self._ask_resend()]
        self._advance()
        self.resend_requested = False
        if kind == MsgType.HEARTBEAT:
            return []
        if kind in (MsgType.TEST_REQUEST, MsgType.RESEND_REQUEST) and not self._take_request():
            return self._logout("too many TestRequests and ResendRequests")
        if kind == MsgType.TEST_REQUEST:
            test_id = (message.get(Tag.TEST_REQ_ID) or "")[:MAX_TEST_REQ_ID]
            return [self.send(MsgType.HEARTBEAT, [(Tag.TEST_REQ_ID, test_id)])]
        if kind == MsgType.RESEND_REQUEST:
            return self._resend(message)
        if kind == MsgType.LOGOUT:
            return self._logout("logout acknowledged")
        if kind in (MsgType.REJECT, MsgType.LOGON):
            return []
        if kind in APPLICATION:
            return [Deliver(message)]
        text = f"message type {kind[:8]!r} is not supported"
        return [self.business_reject(message, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE, text)]

    def _take_request(self) -> bool:
        """A token for a TestRequest or ResendRequest (a bucket on the injected clock)."""
        now = self.clock()
        self._requests = min(
            SESSION_REQUESTS_BURST,
            self._requests + (now - self._requests_at) * SESSION_REQUESTS_PER_SECOND,
        )
        self._requests_at = now
        if self._requests < 1:
            return False
        self._requests -= 1
        return True

    def _sequence_reset(self, message: Message) -> list[Action]:
        new_seq = message.get(Tag.NEW_SEQ_NO) or ""
        if not (new_seq.isascii() and new_seq.isdigit()) or len(new_seq) > MAX_SEQ_DIGITS:
            return [
                self._reject(message, SessionRejectReason.REQUIRED_TAG_MISSING, "NewSeqNo missing")
            ]
        gap_fill = message.get(Tag.GAP_FILL_FLAG) == YesNo.YES
        if gap_fill and message.seq < self.next_in and message.get(Tag.POSS_DUP_FLAG) != YesNo.YES:
            return self._logout(f"MsgSeqNum too low, expecting {self.next_in}")
        if not gap_fill and int(new_seq) < self.next_in:
            # FIX 4.4: a reset may only move forward; lower would let messages be replayed
            return [
                self._reject(
                    message,
                    SessionRejectReason.VALUE_IS_INCORRECT,
                    f"NewSeqNo {new_seq[:18]} is lower than the expected {self.next_in}",
                    Tag.NEW_SEQ_NO,
                )
            ]
        if int(new_seq) > self.next_in or not gap_fill:
            assert self.client_id is not None
            self.next_in = int(new_seq)
            self.store.set_next_in(self.client_id, self.next_in)
            self.resend_requested = False
        return []

    def _resend(self, request: Message) -> list[Action]:
        assert self.client_id is not None
        begin_raw = request.get(Tag.BEGIN_SEQ_NO) or ""
        end_raw = request.get(Tag.END_SEQ_NO) or ""
        if not all(
            raw.isascii() and raw.isdigit() and len(raw) <= MAX_SEQ_DIGITS
            for raw in (begin_raw, end_raw)
        ):
            return [
                self._reject(
                    request,
                    SessionRejectReason.REQUIRED_TAG_MISSING,
                    "BeginSeqNo/EndSeqNo missing",
                )
            ]
        begin = max(1, int(begin_raw))
        end = int(end_raw) or self.next_out - 1
        end = min(end, self.next_out - 1)
        self.last_out = self.clock()
        return [Stream(self._resent(self.client_id, begin, end))]

    def _resent(self, client_id: str, begin: int, end: int) -> Iterator[Send]:
        """The answer to a ResendRequest, produced page by page as the server writes it.

        Its cost follows the messages kept (a bounded window: the store trims the
        rest), never the width of the range asked for: the gaps between kept
        application messages become one SequenceReset-GapFill each.
        """
        answered = begin  # every seq before this one has been answered
        low = begin
        while low <= end:
            page = self.store.sent_between(client_id, low, end, limit=RESEND_PAGE)
            for original in page:
                if original.msg_type in SESSION_TYPES:
                    continue  # kept by an older version: gap filled like the others
                if original.seq > answered:
                    yield self._gap_fill(answered, original.seq)
                old = parse(original.raw)
                body = [
                    (t, v.decode()) for t, v in old.fields.items() if t not in HEADER_AND_TRAILER
                ]
                yield Send(encode(original.msg_type, self.our_id, client_id, original.seq, body,  # type: ignore[arg-type]
                                  poss_dup=old.get(Tag.SENDING_TIME) or ""))  # fmt: skip
                answered = original.seq + 1
            if len(page) < RESEND_PAGE:
                break
            low = page[-1].seq + 1
        if answered <= end:
            yield self._gap_fill(answered, end + 1)

    def _gap_fill(self, first: int, next_seq: int) -> Send:
        assert self.client_id is not None
        now = datetime.now(UTC)
        body: list[tuple[int, str | int]] = [
            (Tag.GAP_FILL_FLAG, YesNo.YES),
            (Tag.NEW_SEQ_NO, next_seq),
        ]
        raw = encode(MsgType.SEQUENCE_RESET, self.our_id, self.client_id, first, body,
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
            test_id = f"T{next(self._test_ids)}"
            actions.append(self.send(MsgType.TEST_REQUEST, [(Tag.TEST_REQ_ID, test_id)]))
        elif now - self.last_out >= self.heartbeat:
            actions.append(self.send(MsgType.HEARTBEAT, []))
        return actions
