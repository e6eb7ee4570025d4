"""Readiness probes: a started service serves when its probe says so.

An HTTP service is ready when its `/readyz` answers 200 (it can serve, not
only runs), the FIX acceptor when its port accepts, the engine when it
answers a query over its request socket. A probe never raises: False until
ready.
"""

import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from exchange.engine.curve import ClientKeys

Probe = Callable[[], bool]


def http_ready(url: str) -> Probe:
    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    return probe


def listening(host: str, port: int) -> Probe:
    def probe() -> bool:
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError:
            return False
        return True

    return probe


def engine_answers(endpoint: str, keys: "ClientKeys") -> Probe:
    """The engine answers an account query (account 0: none) between its batches."""
    import zmq

    from exchange.engine.protocol import Request, reply_decoder, request_encoder
    from exchange.engine.queries import AccountQuery

    def probe() -> bool:
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        try:
            keys.apply(dealer)
            dealer.connect(endpoint)
            dealer.send(request_encoder.encode(Request(1, AccountQuery(0))))
            if not dealer.poll(1000):
                return False
            reply_decoder.decode(dealer.recv())
            return True
        except (zmq.ZMQError, ValueError):
            return False
        finally:
            dealer.close()

    return probe


def catches_stop_signal(pid: int) -> bool:
    """The process has installed its SIGTERM handler (Linux: SigCgt in /proc), so a stop from
    now on is a clean one; True where /proc cannot tell."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    for row in status.splitlines():
        if row.startswith("SigCgt:"):
            return bool(int(row.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return True
