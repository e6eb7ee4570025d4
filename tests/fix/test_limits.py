"""The FIX acceptor's per-address limits, against a real `exchange fix` process (review H1, M3)."""

from __future__ import annotations

import socket

import pytest

from exchange.fix.codec import encode, parse, timestamp
from tests.fix.test_gateway import (
    Fix,
    fix,  # noqa: F401 (the fixture used below)
)


def _logon(comp_id: str, password: str) -> bytes:
    body: list[tuple[int, str | int]] = [(98, 0), (108, 30), (141, "Y"), (554, password)]
    return encode("A", comp_id, "EXCHANGE", 1, body, sending_time=timestamp())


def _answer(sock: socket.socket) -> bytes:
    data = b""
    try:
        while b"\x0110=" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data


def test_h1_fix_logons_are_throttled_per_address_before_any_check(fix: Fix) -> None:  # noqa: F811
    """On 56b90ba every Logon ran a credential check (Argon2 then), with no limit at all."""
    comp_id, _ = fix.credentials[1]
    texts = []
    for _ in range(30):
        with socket.create_connection(("127.0.0.1", fix.port), timeout=5) as sock:
            sock.sendall(_logon(comp_id, "wrong-secret"))
            answer = _answer(sock)
        texts.append(parse(answer).get(58) if answer else None)
    assert texts[0] == "logon refused"  # checked, and wrong
    assert "too many logons: try again later" in texts  # past the burst: not even checked


def test_m3_fix_connections_before_logon_are_capped_per_address(fix: Fix) -> None:  # noqa: F811
    """On 56b90ba one address could hold all 2,000 connection slots without logging on."""
    held = [socket.create_connection(("127.0.0.1", fix.port), timeout=2) for _ in range(20)]
    try:
        with socket.create_connection(("127.0.0.1", fix.port), timeout=2) as extra:
            assert extra.recv(1) == b""  # the 21st: closed at once
        held[0].settimeout(0.3)
        with pytest.raises(TimeoutError):
            held[0].recv(1)  # the first twenty stay open until their logon timeout
    finally:
        for sock in held:
            sock.close()
