"""`exchange gateway --workers 2`: one port, two real processes, one rate limit, one service."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from exchange.launch import Service
from tests import migrated
from tests.engine.test_server import EngineProcess
from tests.gateway.test_e2e import ADMIN, REF, login, new_trader, receive
from tests.launched import beside, start

RATE = 2.0
BURST = 4  # services.build_gateway: twice the rate


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(word) for word in text.split()]


def worker_pid(response: httpx.Response) -> int:
    line = next(r for r in response.text.splitlines() if r.startswith("gateway_worker_pid "))
    return int(float(line.split()[1]))


@pytest.fixture
def workers(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Service, str]]:
    """A gateway of two workers; `@pytest.mark.parametrize("workers", [rate], indirect=True)`
    sets the per-credential rate (default `RATE`)."""
    engine = EngineProcess(tmp_path / "engine")
    engine.start()
    config = beside(
        engine, migrated.data_dir(tmp_path / "gateway"), gateway__workers=2,
        gateway__rate_per_client=getattr(request, "param", RATE), gateway__rate_per_ip=100_000.0,
        gateway__orders_per_account=100_000.0, gateway__tokens_per_ip=100_000.0,
    )  # fmt: skip
    admin = {"EXCHANGE_ADMIN_CLIENT_ID": ADMIN[0], "EXCHANGE_ADMIN_CLIENT_SECRET": ADMIN[1]}
    gateway = start("gateway", config, env=admin)
    try:
        yield gateway, f"http://127.0.0.1:{config.gateway.port}"
    finally:
        gateway.stop()
        engine.kill(signal.SIGTERM)


def test_a_credentials_rate_limit_holds_across_workers(workers: tuple[Service, str]) -> None:
    gateway, base = workers
    assert len(children(gateway.pid)) == 2
    with httpx.Client(base_url=base, timeout=10) as http:
        admin = login(http, *ADMIN)
    time.sleep(BURST / RATE)  # the token request's own take is refilled: the bucket is full
    accepted: list[int] = []
    refused = 0
    started = time.monotonic()
    for _ in range(100):  # a fresh connection each: the kernel spreads them over the workers
        with httpx.Client(base_url=base, timeout=10) as fresh:
            response = fresh.get("/metrics", headers=admin)
        if response.status_code == 200:
            accepted.append(worker_pid(response))
        else:
            assert response.status_code == 429, response.text
            refused += 1
    elapsed = time.monotonic() - started
    assert set(accepted) == set(children(gateway.pid)), "both workers served"
    # One bucket for the credential: per-worker buckets would let about twice this through.
    assert BURST <= len(accepted) <= BURST + RATE * elapsed + 1
    assert refused == 100 - len(accepted) > 0


@pytest.mark.parametrize("workers", [100_000.0], indirect=True)
def test_an_order_reads_back_and_streams_from_every_worker(workers: tuple[Service, str]) -> None:
    _, base = workers
    ws_base = base.replace("http", "ws")
    with httpx.Client(base_url=base, timeout=15) as http:
        admin = login(http, *ADMIN)
        trader = new_trader(http, admin, 7, IRR=10**10)
    headers = trader["headers"]
    with ExitStack() as opened:
        streams = [
            opened.enter_context(connect(f"{ws_base}/v1/stream", additional_headers=headers))
            for _ in range(8)
        ]
        assert all(receive(ws)["type"] == "subscribed" for ws in streams)
        with httpx.Client(base_url=base, timeout=15) as http:
            order = http.post(
                "/v1/order", headers=headers,
                json={"symbol": "FOOLAD", "side": "buy", "type": "limit", "price": REF,
                      "quantity": 100, "timeInForce": "gtc"},
            ).json()  # fmt: skip
        assert order["status"] == "new", order
        for _ in range(20):  # read-your-writes on whichever worker the connection reaches
            with httpx.Client(base_url=base, timeout=15) as fresh:
                read = fresh.get(f"/v1/order/{order['id']}", headers=headers)
            assert read.status_code == 200 and read.json()["id"] == order["id"]
        for ws in streams:
            report = receive(ws)
            assert report["type"] == "accepted" and report["orderId"] == order["id"]


def test_sigterm_stops_the_workers_cleanly(workers: tuple[Service, str]) -> None:
    gateway, _ = workers
    pids = children(gateway.pid)
    assert gateway.stop() == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_a_dead_worker_takes_the_service_down(workers: tuple[Service, str]) -> None:
    gateway, _ = workers
    first, second = children(gateway.pid)
    os.kill(first, signal.SIGKILL)
    assert gateway.wait(30) == 1  # the launcher sees the service exit with an error
    assert not Path(f"/proc/{second}").exists()
