"""Abusive traffic against a real market-data process: one address flooded, others served."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from exchange.core import NewOrder, OrderType, Side, TimeInForce
from exchange.engine.client import EngineClient
from exchange.engine.curve import ClientKeys
from exchange.launch import service
from tests.engine.test_server import EngineProcess, setup_accounts
from tests.launched import beside

ROOT = Path(__file__).resolve().parents[2]


def client_from(ip: str, base: str) -> httpx.Client:
    return httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=ip), timeout=10)


async def round_trips(endpoint: str, keys: ClientKeys, count: int, prefix: str) -> list[float]:
    """Market-order round trips through the engine (resting asks are replenished first)."""
    client = EngineClient(endpoint, keys=keys, timeout=1.0, deadline=30)
    times = []
    try:
        await client.submit(
            NewOrder(
                account=2,
                client_order_id=f"{prefix}-ask",
                symbol="FOOLAD",
                side=Side.SELL,
                order_type=OrderType.LIMIT,
                time_in_force=TimeInForce.GTC,
                price=5_430,
                quantity=count,
            )
        )
        for n in range(count):
            started = time.perf_counter()
            await client.submit(
                NewOrder(
                    account=1,
                    client_order_id=f"{prefix}-{n}",
                    symbol="FOOLAD",
                    side=Side.BUY,
                    order_type=OrderType.MARKET,
                    time_in_force=TimeInForce.IOC,
                    price=0,
                    quantity=1,
                )
            )
            times.append(time.perf_counter() - started)
    finally:
        await client.close()
    return times


def test_a_flood_from_one_address_is_limited_others_and_trading_are_not(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "engine")
    engine.start()
    data = tmp_path / "md"
    data.mkdir()
    config = beside(engine, data, marketdata__rate_per_ip=20.0, marketdata__connections_per_ip=4)
    base = f"http://127.0.0.1:{config.marketdata.port}"
    server = service("marketdata", config, quiet=True, cwd=ROOT).start()
    try:

        async def setup() -> None:
            client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.5, deadline=30)
            try:
                await setup_accounts(client)
            finally:
                await client.close()

        asyncio.run(setup())
        server.wait_ready()
        baseline = asyncio.run(round_trips(engine.endpoint, engine.keys(), 200, "before"))

        flood = subprocess.Popen(
            # The abuser is the world, not this machine: it runs at the lowest priority.
            ["nice", "-n", "19", sys.executable, "-m", "tests.marketdata.flood", base,
             "127.0.0.2", "6"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        time.sleep(1.0)
        during = asyncio.run(round_trips(engine.endpoint, engine.keys(), 200, "during"))
        with client_from("127.0.0.3", base) as other:
            served = [other.get("/v1/marketdata/FOOLAD/l2").status_code for _ in range(10)]
        with client_from("127.0.0.2", base) as flooder:  # a burst beyond the bucket
            answers = [flooder.get("/v1/marketdata/FOOLAD/l2") for _ in range(60)]
        refused = [a for a in answers if a.status_code == 429]
        out, _ = flood.communicate(timeout=60)
        statuses = json.loads(out)

        assert served == [200] * 10  # another address is served normally
        assert refused and int(refused[0].headers["retry-after"]) >= 1
        assert statuses.get("429", 0) > 3 * statuses.get("200", 0)  # most of the flood refused
        assert statuses.get("200", 0) <= 20 * 7 + 40  # no more than the bucket lets through
        # Trading is not slowed by the flood: the median round trip stays in its range
        # (a ratio measured in this run, generous because everything shares two cores).
        assert statistics.median(during) < 5 * statistics.median(baseline)

        # Block the flooder by file, without a restart.
        (data / "blocklist.txt").write_text("127.0.0.2\n")
        time.sleep(1.5)
        with client_from("127.0.0.2", base) as flooder:
            assert flooder.get("/v1/marketdata/summary").status_code == 403
        with client_from("127.0.0.3", base) as other:
            assert other.get("/v1/marketdata/summary").status_code == 200
    finally:
        server.stop(grace=30)
        engine.kill(signal.SIGTERM)
