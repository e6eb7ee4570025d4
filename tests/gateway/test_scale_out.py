"""Scale-out under an engine crash: a gateway of 2 workers and a second gateway of one account
shard (its own ports, no journal directory: gaps over the network), while the engine is
SIGKILLed and restarted mid-traffic.

Every acknowledged order is in the view of the gateway that serves its account, whichever
worker is asked, and each account's stream carries every acknowledged order's acceptance
once, in seq order, nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from tests import migrated
from tests.engine.test_server import EngineProcess
from tests.gateway.test_e2e import ADMIN, REF, login, new_trader
from tests.launched import beside, start

SHARDS = 2
UNLIMITED = {
    "gateway__rate_per_ip": 100_000.0,
    "gateway__rate_per_client": 100_000.0,
    "gateway__orders_per_account": 100_000.0,
}


def collect(
    url: str, headers: dict[str, str], into: list[dict[str, Any]], stop: threading.Event
) -> None:
    """Every report a stream sends until `stop` (reconnecting with `since` if it drops)."""
    since = 0
    while not stop.is_set():
        try:
            with connect(f"{url}/v1/stream?since={since}", additional_headers=headers) as ws:
                while not stop.is_set():
                    try:
                        message = json.loads(ws.recv(timeout=0.2))
                    except TimeoutError:
                        continue
                    if message.get("type") != "subscribed":
                        into.append(message)
                        since = message["seq"]
        except Exception:
            stop.wait(0.2)


def test_two_workers_and_a_shard_gateway_stay_exact_through_an_engine_sigkill(
    tmp_path: Path,
) -> None:
    engine = EngineProcess(tmp_path / "engine", engine__account_shards=SHARDS)
    engine.start()
    admin_env = {"EXCHANGE_ADMIN_CLIENT_ID": ADMIN[0], "EXCHANGE_ADMIN_CLIENT_SECRET": ADMIN[1]}
    whole = beside(engine, migrated.data_dir(tmp_path / "a"), gateway__workers=2, **UNLIMITED)
    shard = beside(
        engine, migrated.data_dir(tmp_path / "b"),
        accounts_db=whole.accounts_url,
        journal=str(tmp_path / "no-journal-here"),
        engine__journal_service=engine.config.engine.journal_service,
        engine__remote_journal=True,
        engine__account_shards=SHARDS,
        gateway__account_shard=1,
        **UNLIMITED,
    )  # fmt: skip
    gateways = [start("gateway", whole, env=admin_env), start("gateway", shard, env=admin_env)]
    a = f"http://127.0.0.1:{whole.gateway.port}"
    b = f"http://127.0.0.1:{shard.gateway.port}"
    stop = threading.Event()
    try:
        with httpx.Client(base_url=a, timeout=15) as http:
            admin = login(http, *ADMIN)
            buyer = new_trader(http, admin, 71, IRR=10**12)
            seller = new_trader(http, admin, 72, FOOLAD=10**6)
        # Account 1 is shard 1's (served by both gateways), account 2 only by the whole one.
        assert (buyer["accountId"], seller["accountId"]) == (1, 2)
        with httpx.Client(base_url=b, timeout=15) as http:
            buyer_b = login(http, buyer["clientId"], buyer["clientSecret"])
            refused = http.get(
                "/v1/orders", headers=login(http, seller["clientId"], seller["clientSecret"])
            )
            assert refused.status_code == 421
        streams: dict[str, list[dict[str, Any]]] = {"buyer@b": [], "seller@a": []}
        followed = ((b, buyer_b, "buyer@b"), (a, seller["headers"], "seller@a"))
        threads = [
            threading.Thread(
                target=collect, args=(base.replace("http", "ws"), headers, streams[name], stop)
            )
            for base, headers, name in followed
        ]
        for thread in threads:
            thread.start()
        acknowledged: dict[str, tuple[str, dict[str, Any]]] = {}
        total = 300

        async def traffic() -> None:
            queue = iter(range(total))
            async with httpx.AsyncClient(timeout=30) as client:

                async def sender() -> None:
                    for i in queue:
                        buy = i % 2 == 0
                        base, headers = (b, buyer_b) if buy else (a, seller["headers"])
                        coid = f"o{i}"
                        body = {"symbol": "FOOLAD", "side": "buy" if buy else "sell",
                                "type": "limit", "quantity": 10, "price": REF + (i % 7) * 10 - 30,
                                "timeInForce": "gtc", "clientOrderId": coid}  # fmt: skip
                        # New connections: the whole gateway's kernel spreads them over workers.
                        response = await client.post(
                            f"{base}/v1/order",
                            json=body,
                            headers={**headers, "Connection": "close"},
                        )
                        if response.status_code == 200:
                            acknowledged[coid] = (base, response.json())
                        else:
                            assert response.status_code == 503, response.text

                async def killer() -> None:
                    while len(acknowledged) < 80:
                        await asyncio.sleep(0.005)
                    engine.kill()
                    await asyncio.sleep(0.5)
                    engine.start()

                await asyncio.gather(killer(), *(sender() for _ in range(8)))

        asyncio.run(traffic())
        assert len(acknowledged) >= 80
        buys = {c: o for c, (base, o) in acknowledged.items() if base == b}
        sells = {c: o for c, (base, o) in acknowledged.items() if base == a}
        assert buys and sells
        # Each acknowledged order is in the view of its gateway (any of A's workers answers).
        for base, headers, orders in ((b, buyer_b, buys), (a, seller["headers"], sells)):
            with httpx.Client(base_url=base, timeout=15) as http:
                for coid, original in orders.items():
                    got = http.get(
                        f"/v1/order/{original['id']}", headers={**headers, "Connection": "close"}
                    )
                    assert got.status_code == 200, got.text
                    assert got.json()["clientOrderId"] == coid
        # Fresh connections reach both of A's workers (so the reads above asked both).
        with httpx.Client(base_url=a, timeout=15) as http:
            admin = login(http, *ADMIN)
        pids = set()
        for _ in range(60):
            with httpx.Client(base_url=a, timeout=15) as fresh:
                metrics = fresh.get("/metrics", headers=admin).text
            line = next(r for r in metrics.splitlines() if r.startswith("gateway_worker_pid "))
            pids.add(int(float(line.split()[1])))
        assert len(pids) == 2, pids
        # Each stream: every acknowledged order accepted once, seqs increasing, nothing twice.
        deadline = 200
        for _ in range(deadline):
            accepted = {
                name: {r["clientOrderId"] for r in reports if r["type"] == "accepted"}
                for name, reports in streams.items()
            }
            if accepted["buyer@b"] >= set(buys) and accepted["seller@a"] >= set(sells):
                break
            threading.Event().wait(0.1)
        assert accepted["buyer@b"] >= set(buys)
        assert accepted["seller@a"] >= set(sells)
        for reports in streams.values():
            seqs = [r["seq"] for r in reports]
            assert seqs == sorted(set(seqs)), "a report twice, or out of order"
            accepts = [r["clientOrderId"] for r in reports if r["type"] == "accepted"]
            assert len(accepts) == len(set(accepts))
    finally:
        stop.set()
        for gateway in gateways:
            gateway.stop()
        if engine.proc is not None and engine.proc.poll() is None:
            engine.kill(signal.SIGTERM)
