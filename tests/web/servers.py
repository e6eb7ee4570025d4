"""Real `exchange gateway` and `exchange marketdata` processes beside a real engine."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from exchange.launch import Fleet, service
from tests import migrated
from tests.engine.test_server import EngineProcess
from tests.launched import beside

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("ops", "ops-secret-123")


@dataclass
class Servers:
    engine: EngineProcess
    gateway: str
    """The gateway's base URL."""
    marketdata: str
    """The market-data server's base URL."""

    def admin_token(self) -> str:
        login = httpx.post(
            f"{self.gateway}/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": ADMIN[0],
                  "client_secret": ADMIN[1]},
            timeout=10,
        )  # fmt: skip
        assert login.status_code == 200, login.text
        token: str = login.json()["access_token"]
        return token


@contextmanager
def running(tmp: Path, *gateway_args: str) -> Iterator[Servers]:
    """An engine, a gateway (with an admin credential) and a market-data server, stopped after."""
    engine = EngineProcess(tmp / "engine")
    engine.start()
    admin = {"EXCHANGE_ADMIN_CLIENT_ID": ADMIN[0], "EXCHANGE_ADMIN_CLIENT_SECRET": ADMIN[1]}
    (tmp / "md").mkdir(parents=True, exist_ok=True)
    fleet = Fleet()
    try:
        gateway = beside(engine, migrated.data_dir(tmp / "gw"))
        fleet.start(service("gateway", gateway, *gateway_args, env=admin, quiet=True, cwd=ROOT))
        marketdata = beside(engine, tmp / "md")
        fleet.start(service("marketdata", marketdata, quiet=True, cwd=ROOT))
        servers = Servers(
            engine,
            f"http://127.0.0.1:{gateway.gateway.port}",
            f"http://127.0.0.1:{marketdata.marketdata.port}",
        )
        yield servers
    finally:
        fleet.stop(grace=20)
        engine.kill(signal.SIGTERM)


def connect(base: str, source: str) -> socket.socket:
    """A raw TCP connection to `base` from the local address `source` (127.0.0.x)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.connect((host, int(port)))
    return sock


def closed_by_server(sock: socket.socket, wait: float) -> bytes | None:
    """What the server sent before closing `sock` within `wait` seconds; None if still open."""
    sock.settimeout(wait)
    received = b""
    try:
        while True:
            chunk = sock.recv(65_536)
            if not chunk:
                return received
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        return received
    except TimeoutError:
        return None
