"""A small FIX 4.4 initiator for tests: our framing, simplefix's encoding, a plain socket."""

from __future__ import annotations

import socket
import time
from typing import Any

from exchange.fix.codec import Framer, Message, encode, parse


class FixClient:
    def __init__(self, port: int, comp_id: str, password: str, *, seq: int = 1) -> None:
        self.comp_id = comp_id
        self.password = password
        self.seq = seq
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.framer = Framer()
        self.pending: list[Message] = []

    def send(self, kind: str, body: list[tuple[int, Any]], **header: Any) -> None:
        seq = header.pop("seq", self.seq)
        raw = encode(kind, self.comp_id, "EXCHANGE", seq, body, **header)
        self.seq = seq + 1
        self.sock.sendall(raw)

    def logon(self, heartbeat: int = 30, *, reset: bool = False) -> Message:
        body: list[tuple[int, Any]] = [(98, 0), (108, heartbeat), (554, self.password)]
        if reset:
            body.append((141, "Y"))
        self.send("A", body)
        return self.expect(lambda m: m.msg_type in ("A", "5"))

    def receive(self, timeout: float = 10.0) -> Message | None:
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not data:
                return None
            self.pending.extend(parse(f) for f in self.framer.feed(data))
        return self.pending.pop(0)

    def expect(self, check: Any, timeout: float = 10.0) -> Message:
        """The next message that passes `check`, skipping heartbeats and others."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(0.01, deadline - time.monotonic()))
            if message is None:
                raise AssertionError("no matching message in time")
            if check(message):
                return message

    def closed(self, timeout: float = 10.0) -> bool:
        """Whether the server closes the connection within `timeout`."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                if self.sock.recv(65536) == b"":
                    return True
            except TimeoutError:
                continue
            except OSError:
                return True
        return False

    def close(self) -> None:
        self.sock.close()
