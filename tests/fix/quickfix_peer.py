"""QuickFIX (what most brokers run) as a FIX 4.4 initiator with strict validation, for tests.

QuickFIX validates every message it receives against its FIX44 data
dictionary. A message it finds wrong never reaches the application: it
answers with a session-level Reject (35=3), and when a sequence number is
skipped it asks for a resend (35=2). This peer records both, so a test can
assert that the acceptor never provoked either.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from exchange.fix.codec import Message, parse
from tests.fix.quickfix_dictionary import fix44_xml

try:
    import quickfix as fix
except ImportError:  # pragma: no cover - CI installs it
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("quickfix-ssl is not installed", allow_module_level=True)

SOH = "\x01"


def _parse(message: fix.Message) -> Message:
    return parse(message.toString().encode())


class QuickFixPeer(fix.Application):  # type: ignore[misc]
    """One initiator session: messages received, and what QuickFIX itself sent."""

    def __init__(self, password: str) -> None:
        super().__init__()
        self.password = password
        self.received: queue.Queue[Message] = queue.Queue()
        self.sent_admin: list[Message] = []
        self.session_id: fix.SessionID | None = None
        self.logged_on = False
        self.logged_out = False
        self.log_dir: Path | None = None

    # QuickFIX's callbacks (on its own thread)
    def onCreate(self, session_id: fix.SessionID) -> None:
        self.session_id = session_id

    def onLogon(self, session_id: fix.SessionID) -> None:
        self.logged_on = True

    def onLogout(self, session_id: fix.SessionID) -> None:
        self.logged_out = True

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        if message.getHeader().getField(35) == "A":
            message.setField(fix.StringField(554, self.password))
        self.sent_admin.append(_parse(message))

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self.received.put(_parse(message))

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self.received.put(_parse(message))

    # the test's side
    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        message = fix.Message()
        message.getHeader().setField(fix.MsgType(msg_type))
        for tag, value in fields:
            message.setField(fix.StringField(tag, value))
        assert fix.Session.sendToTarget(message, self.session_id)

    def expect(self, match: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """The next received message that matches (others are dropped); fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching message in time")
            try:
                message = self.received.get(timeout=left)
            except queue.Empty:
                continue
            if match(message):
                return message

    def wire_from_exchange(self) -> list[Message]:
        """Every message the exchange sent, from QuickFIX's message log: also those QuickFIX
        handles itself and never hands to the application (a gap fill, a PossDup resend)."""
        assert self.log_dir is not None
        out = []
        for path in self.log_dir.glob("FIX.4.4-*.messages.current.log"):
            for line in path.read_text().splitlines():
                raw = line.partition(" : ")[2]
                if f"{SOH}49=EXCHANGE{SOH}" in raw:
                    out.append(parse(raw.encode()))
        return out

    def rejects_and_resends(self) -> list[str]:
        """What QuickFIX sent because it found a message wrong or a sequence number skipped."""
        return [
            m.raw.decode().replace(SOH, "|") for m in self.sent_admin if m.msg_type in ("3", "2")
        ]


def start(peer: QuickFixPeer, port: int, sender: str, workdir: Path) -> fix.SocketInitiator:
    """A strict initiator for `sender` against the acceptor on 127.0.0.1:port."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "initiator.cfg"
    config.write_text(
        "[DEFAULT]\n"
        "ConnectionType=initiator\n"
        "ReconnectInterval=60\n"
        "StartTime=00:00:00\nEndTime=00:00:00\n"
        "HeartBtInt=30\n"
        "ResetOnLogon=Y\n"
        "UseDataDictionary=Y\n"
        f"DataDictionary={fix44_xml()}\n"
        "ValidateUserDefinedFields=Y\n"
        "ValidateFieldsOutOfOrder=Y\n"
        "ValidateFieldsHaveValues=Y\n"
        "AllowUnknownMsgFields=N\n"
        "CheckLatency=Y\n"
        "MaxLatency=120\n"
        f"FileLogPath={workdir / 'log'}\n"
        "SocketConnectHost=127.0.0.1\n"
        f"SocketConnectPort={port}\n"
        "\n[SESSION]\n"
        "BeginString=FIX.4.4\n"
        f"SenderCompID={sender}\n"
        "TargetCompID=EXCHANGE\n"
    )
    peer.log_dir = workdir / "log"
    settings = fix.SessionSettings(str(config))
    initiator = fix.SocketInitiator(
        peer, fix.MemoryStoreFactory(), settings, fix.FileLogFactory(settings)
    )
    initiator.start()
    return initiator


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
