"""Real `exchange gateway` and `exchange marketdata` processes beside a real engine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from exchange.engine.ports import free_ports
from tests import migrated
from tests.engine.test_server import EngineProcess
from tests.waiting import wait_healthy

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
    gw_port, md_port = free_ports(2)
    env = {**os.environ, "EXCHANGE_ADMIN_CLIENT_ID": ADMIN[0],
           "EXCHANGE_ADMIN_CLIENT_SECRET": ADMIN[1]}  # fmt: skip
    journal = str(engine.data_dir / "journal")
    migrated.data_dir(tmp / "gw")
    gateway = subprocess.Popen(
        [sys.executable, "-m", "exchange", "gateway", "--data-dir", str(tmp / "gw"),
         "--port", str(gw_port), "--engine", engine.endpoint, "--publish", engine.publish,
         "--journal", journal, *gateway_args],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    (tmp / "md").mkdir(parents=True, exist_ok=True)
    marketdata = subprocess.Popen(
        [sys.executable, "-m", "exchange", "marketdata", "--data-dir", str(tmp / "md"),
         "--port", str(md_port), "--publish", engine.publish, "--journal", journal],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    servers = Servers(engine, f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{md_port}")
    try:
        wait_healthy(servers.gateway, "the gateway")
        wait_healthy(servers.marketdata, "market data")
        yield servers
    finally:
        for proc in (gateway, marketdata):
            proc.send_signal(signal.SIGTERM)
        for proc in (gateway, marketdata):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
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
