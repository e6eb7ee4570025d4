"""End to end over real HTTP and WebSockets against real engine and gateway processes."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from exchange.accounts import with_check_digit
from exchange.launch import Service
from tests import migrated
from tests.engine.test_server import EngineProcess
from tests.launched import beside, start

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("ops", "ops-secret-for-e2e")
REF = 5_430


class GatewayProcess:
    def __init__(self, data_dir: Path, engine: EngineProcess, *extra: str) -> None:
        self.config = beside(
            engine, migrated.data_dir(data_dir), gateway__rate_per_ip=100_000.0,
            gateway__rate_per_client=100_000.0, gateway__orders_per_account=100_000.0,
        )  # fmt: skip
        self.port = self.config.gateway.port
        self.base = f"http://127.0.0.1:{self.port}"
        self.extra = extra
        self.service: Service | None = None

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return None if self.service is None else self.service.process

    def start(self) -> None:
        admin = {"EXCHANGE_ADMIN_CLIENT_ID": ADMIN[0], "EXCHANGE_ADMIN_CLIENT_SECRET": ADMIN[1]}
        self.service = start("gateway", self.config, *self.extra, env=admin)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[tuple[EngineProcess, GatewayProcess]]:
    engine = EngineProcess(tmp_path / "engine")
    engine.start()
    gateway = GatewayProcess(tmp_path / "gateway", engine)
    try:
        gateway.start()
        yield engine, gateway
    finally:
        gateway.stop()
        if engine.proc is not None and engine.proc.poll() is None:
            engine.kill(signal.SIGTERM)


def login(http: httpx.Client, client_id: str, secret: str) -> dict[str, str]:
    response = http.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def new_trader(
    http: httpx.Client, admin: dict[str, str], n: int, **deposits: int
) -> dict[str, Any]:
    application = {
        "fullName": f"End To End {n}", "nationalId": with_check_digit(f"{500_000_000 + n:09d}"),
        "dateOfBirth": "1980-02-02", "address": "4 Bazaar Rd, Tehran",
        "email": f"e{n}@example.ir", "phone": "+989125550000",
    }  # fmt: skip
    created = http.post("/v1/accounts", json=application).json()
    assert created["status"] == "pending_review"
    pending = http.get("/v1/admin/kyc?status=pending_review", headers=admin).json()
    assert created["applicationId"] in [a["applicationId"] for a in pending["applications"]]
    issued = http.post(f"/v1/admin/kyc/{created['applicationId']}/approve", headers=admin).json()
    for asset, amount in deposits.items():
        moved = http.post(
            f"/v1/admin/accounts/{issued['accountId']}/deposits",
            json={"asset": asset, "amount": amount, "reference": f"e2e-{n}-{asset}"},
            headers=admin,
        )
        assert moved.status_code == 200, moved.text
    headers = login(http, issued["clientId"], issued["clientSecret"])
    return {**issued, "headers": headers}


def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return message


def test_application_to_trade_with_both_streams_over_real_http(
    exchange: tuple[EngineProcess, GatewayProcess],
) -> None:
    _, gateway = exchange
    ws_base = gateway.base.replace("http", "ws")
    with httpx.Client(base_url=gateway.base, timeout=15) as http:
        admin = login(http, *ADMIN)
        buyer = new_trader(http, admin, 1, IRR=10**10)
        seller = new_trader(http, admin, 2, FOOLAD=5_000)
        with (
            connect(f"{ws_base}/v1/stream", additional_headers=buyer["headers"]) as buyer_ws,
            connect(f"{ws_base}/v1/stream", additional_headers=seller["headers"]) as seller_ws,
        ):
            assert receive(buyer_ws)["type"] == receive(seller_ws)["type"] == "subscribed"
            ask = http.post(
                "/v1/order", headers=seller["headers"],
                json={"symbol": "FOOLAD", "side": "sell", "type": "limit", "price": REF,
                      "quantity": 1_000, "timeInForce": "gtc", "clientOrderId": "ask-1"},
            ).json()  # fmt: skip
            bid = http.post(
                "/v1/order", headers=buyer["headers"],
                json={"symbol": "FOOLAD", "side": "buy", "type": "market", "quantity": 400},
            ).json()  # fmt: skip
            assert bid["status"] == "filled" and bid["executions"][0]["price"] == REF
            buyer_reports = [receive(buyer_ws)["type"] for _ in range(2)]
            seller_reports = [receive(seller_ws) for _ in range(2)]
            assert buyer_reports == ["accepted", "fill"]
            assert [r["type"] for r in seller_reports] == ["accepted", "fill"]
            assert seller_reports[1]["execution"]["id"] == bid["executions"][0]["id"]
            canceled = http.delete(f"/v1/order/{ask['id']}", headers=seller["headers"]).json()
            assert canceled["status"] == "canceled" and canceled["filledQuantity"] == 400
            assert receive(seller_ws)["type"] == "canceled"
        balances = http.get("/v1/account", headers=seller["headers"]).json()
        assert balances["cash"]["total"] == 400 * REF
        assert balances["positions"] == [{"symbol": "FOOLAD", "total": 4_600, "available": 4_600}]


def test_gateway_restart_rebuilds_its_view_and_streams_resume(
    exchange: tuple[EngineProcess, GatewayProcess],
) -> None:
    _, gateway = exchange
    with httpx.Client(base_url=gateway.base, timeout=15) as http:
        admin = login(http, *ADMIN)
        trader = new_trader(http, admin, 3, IRR=10**10)
        placed = [
            http.post("/v1/order", headers=trader["headers"], json={
                "symbol": "FOOLAD", "side": "buy", "type": "limit", "price": REF - 10 * i,
                "quantity": 10, "timeInForce": "gtc"}).json()
            for i in range(5)
        ]  # fmt: skip
        gateway.stop()
        gateway.start()
        headers = login(http, trader["clientId"], trader["clientSecret"])
        open_orders = http.get("/v1/orders", headers=headers).json()["orders"]
        assert sorted(o["id"] for o in open_orders) == sorted(p["id"] for p in placed)
        ws_base = gateway.base.replace("http", "ws")
        with connect(f"{ws_base}/v1/stream?since=0", additional_headers=headers) as ws:
            assert receive(ws)["complete"] is True
            replayed = [receive(ws) for _ in placed]
            assert [r["orderId"] for r in replayed] == [p["id"] for p in placed]


def test_engine_sigkill_mid_traffic_loses_no_acknowledged_order(
    exchange: tuple[EngineProcess, GatewayProcess],
) -> None:
    engine, gateway = exchange
    with httpx.Client(base_url=gateway.base, timeout=15) as http:
        admin = login(http, *ADMIN)
        trader = new_trader(http, admin, 4, IRR=10**12)
    headers = trader["headers"]
    acknowledged: dict[str, dict[str, Any]] = {}
    unavailable: list[str] = []
    total = 600

    async def traffic() -> None:
        queue = iter(range(total))
        async with httpx.AsyncClient(base_url=gateway.base, timeout=30) as client:

            async def sender() -> None:
                for i in queue:
                    coid = f"k{i}"
                    body = {"symbol": "FOOLAD", "side": "buy", "type": "limit", "quantity": 1,
                            "price": REF - 1 - i % 50, "timeInForce": "gtc",
                            "clientOrderId": coid}  # fmt: skip
                    response = await client.post("/v1/order", json=body, headers=headers)
                    if response.status_code == 200:
                        acknowledged[coid] = response.json()
                    else:
                        assert response.status_code == 503, response.text
                        unavailable.append(coid)

            async def killer() -> None:
                while len(acknowledged) < 150:
                    await asyncio.sleep(0.005)
                engine.kill()
                await asyncio.sleep(0.5)
                engine.start()

            await asyncio.gather(killer(), *(sender() for _ in range(16)))

    asyncio.run(traffic())
    assert len(acknowledged) + len(unavailable) == total
    assert len(acknowledged) >= 150
    # Requests were in flight at the kill: the gateway sent them again after the restart.
    metrics = httpx.get(f"{gateway.base}/metrics", headers=admin).text
    resends = next(
        line for line in metrics.splitlines() if line.startswith("gateway_engine_resends")
    )
    assert float(resends.split()[1]) > 0
    with httpx.Client(base_url=gateway.base, timeout=30) as http:
        for coid, original in acknowledged.items():
            now = http.get(f"/v1/order/{original['id']}", headers=headers).json()
            assert now == original, coid
            again = http.post("/v1/order", headers=headers, json={
                "symbol": "FOOLAD", "side": "buy", "type": "limit", "quantity": 1,
                "price": REF - 1, "timeInForce": "gtc", "clientOrderId": coid}).json()  # fmt: skip
            assert again == original, coid
        open_ids = {
            o["id"] for o in http.get("/v1/orders?limit=1000", headers=headers).json()["orders"]
        }
        assert {o["id"] for o in acknowledged.values()} <= open_ids


def test_engine_sigkill_ten_times_with_a_standby_through_the_gateway(tmp_path: Path) -> None:
    """Issue 8's fault test, on one machine: each kill, a fresh standby takes over."""
    from exchange.engine import rebuild
    from tests.engine.test_standby import StandbyProcess

    engine = EngineProcess(tmp_path / "engine")
    engine.start()
    gateway = GatewayProcess(tmp_path / "gateway", engine)
    started: list[subprocess.Popen[bytes]] = []
    acknowledged: dict[str, int] = {}
    try:
        gateway.start()
        with httpx.Client(base_url=gateway.base, timeout=15) as http:
            trader = new_trader(http, login(http, *ADMIN), 5, IRR=10**12)
        headers = trader["headers"]
        current = engine.proc

        async def cycle(n: int) -> None:
            queue = iter(range(n * 200, n * 200 + 200))
            async with httpx.AsyncClient(base_url=gateway.base, timeout=60) as client:

                async def sender() -> None:
                    for i in queue:
                        body = {"symbol": "FOOLAD", "side": "buy", "type": "limit", "quantity": 1,
                                "price": REF - 1 - i % 50, "timeInForce": "gtc",
                                "clientOrderId": f"h{i}"}  # fmt: skip
                        response = await client.post("/v1/order", json=body, headers=headers)
                        assert response.status_code == 200, response.text
                        acknowledged[f"h{i}"] = response.json()["id"]

                async def killer() -> None:
                    while len(acknowledged) < n * 200 + 60:
                        await asyncio.sleep(0.002)
                    assert current is not None
                    current.send_signal(signal.SIGKILL)

                await asyncio.gather(killer(), *(sender() for _ in range(8)))

        for n in range(10):
            standby = StandbyProcess(engine)
            standby.start()
            assert standby.proc is not None
            started.append(standby.proc)
            time.sleep(1.0)
            asyncio.run(cycle(n))
            assert current is not None
            current.wait(timeout=20)
            current = standby.proc
    finally:
        gateway.stop()
        for process in [engine.proc, *started]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    assert len(acknowledged) == 2_000
    replay = rebuild(tmp_path / "engine")
    ids = {o.client_order_id: o.id for o in replay.core.orders.values()}
    assert all(ids.get(c) == i for c, i in acknowledged.items())  # every acknowledged order, once
