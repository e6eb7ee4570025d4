"""The market-data server: cached L2 requests/s, WebSocket fan-out to many subscribers, memory.

Starts `exchange engine` and `exchange marketdata` (fresh data directory;
127.0.0.0/8 on the allowlist so the bench is not rate limited), seeds the
books, then:

1. cached L2: `--concurrency` aiohttp loops GET /v1/marketdata/FOOLAD/l2 for
   `--seconds`, while the book does not change (every answer from the cache);
2. fan-out: opens `--subscribers` WebSockets (each subscribes l1 and trades
   of `--symbols-each` symbols), measures the server's RSS before and after
   (memory per subscriber), then sends orders through the engine at
   `--orders-per-s` for `--seconds` and counts the messages the clients
   receive (updates/s delivered) and the subscribers the server dropped.

Client and servers share the machine (2 cores here). Prints one JSON line.

    python bench/marketdata.py --subscribers 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import tempfile
import time
from pathlib import Path

import aiohttp

from exchange.config import ExchangeConfig, updated
from exchange.core import Deposit, NewOrder, OrderType, Side, TimeInForce
from exchange.engine.client import EngineClient
from exchange.engine.curve import ClientKeys, KeyDirectory
from exchange.launch import Fleet, on_free_ports, service
from exchange.refdata import load_instruments

ROOT = Path(__file__).resolve().parent.parent


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def seed(endpoint: str, keys: ClientKeys) -> None:
    client = EngineClient(endpoint, keys=keys, timeout=2.0)
    try:
        for account in (1, 2):
            opened = await client.open_account(f"owner-{account}")
            assert opened == account, "a new engine gives account ids 1, 2, ... in order"
            await client.submit(
                Deposit(account=account, asset="IRR", amount=10**15, reference=f"cash-{account}")
            )
            for i in load_instruments():
                await client.submit(
                    Deposit(
                        account=account,
                        asset=i.symbol,
                        amount=10**8,
                        reference=f"{i.symbol}-{account}",
                    )
                )
        for i in load_instruments():
            for step in range(1, 11):
                price = i.reference_price + step * i.tick_size
                ask = NewOrder(
                    account=2,
                    client_order_id=f"ask-{i.symbol}-{step}",
                    symbol=i.symbol,
                    side=Side.SELL,
                    order_type=OrderType.LIMIT,
                    time_in_force=TimeInForce.GTC,
                    price=price,
                    quantity=100_000,
                )
                await client.submit(ask)
    finally:
        await client.close()


async def cached_l2(base: str, seconds: float, concurrency: int) -> float:
    done = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def loop() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                async with http.get("/v1/marketdata/FOOLAD/l2") as response:
                    await response.read()
                    assert response.status == 200
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


async def fan_out(
    base: str, endpoint: str, keys: ClientKeys, pid: int, subscribers: int, symbols_each: int,
    orders_per_s: float, seconds: float,
) -> dict[str, float]:  # fmt: skip
    symbols = [i.symbol for i in load_instruments()]
    received = 0
    closed = 0
    before = rss_kib(pid)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base, connector=connector) as http:
        sockets = []
        rng = random.Random(7)
        for start in range(0, subscribers, 250):
            batch = await asyncio.gather(*(
                http.ws_connect("/v1/marketdata/stream", max_msg_size=1 << 20)
                for _ in range(start, min(subscribers, start + 250))
            ))  # fmt: skip
            for ws in batch:
                chosen = rng.sample(symbols, symbols_each)
                await ws.send_str(
                    json.dumps({"op": "subscribe", "channel": "l1", "symbols": chosen})
                )
                await ws.send_str(
                    json.dumps({"op": "subscribe", "channel": "trades", "symbols": chosen})
                )
            sockets.extend(batch)

        async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal received, closed
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    received += 1
            closed += 1

        readers = [asyncio.ensure_future(reader(ws)) for ws in sockets]
        await asyncio.sleep(2)  # snapshots delivered
        after = rss_kib(pid)
        baseline = received
        client = EngineClient(endpoint, keys=keys, timeout=2.0)
        sent = 0
        pending: set[asyncio.Future[object]] = set()
        try:
            started = time.perf_counter()
            loop = asyncio.get_running_loop()
            begin = loop.time()
            total = int(orders_per_s * seconds)
            for n in range(total):
                delay = begin + n / orders_per_s - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                symbol = symbols[n % len(symbols)]
                order = NewOrder(
                    account=1,
                    client_order_id=f"mkt-{n}",
                    symbol=symbol,
                    side=Side.BUY,
                    order_type=OrderType.MARKET,
                    time_in_force=TimeInForce.IOC,
                    price=0,
                    quantity=1,
                )
                pending.add(asyncio.ensure_future(client.submit(order)))
                sent += 1
            await asyncio.gather(*pending)
            await asyncio.sleep(1)
            elapsed = time.perf_counter() - started
        finally:
            await client.close()
        delivered = received - baseline
        dropped = closed  # before we close anything: the server cut these off
        for ws in sockets:
            await ws.close()
        for task in readers:
            task.cancel()
    return {
        "subscribers": subscribers,
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_subscriber": round((after - before) / subscribers, 2),
        "orders_sent": sent,
        "updates_delivered": delivered,
        "updates_per_s": round(delivered / elapsed, 1),
        "closed_by_server": dropped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--symbols-each", type=int, default=3)
    parser.add_argument("--orders-per-s", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 10,000 sockets and more
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "allowlist.txt").write_text("127.0.0.0/8\n")
        config = updated(on_free_ports(ExchangeConfig(), data), {
            "engine.calendar": "always-open", "marketdata.max_subscribers": 30_000,
        })  # fmt: skip
        endpoint, base = config.engine.endpoint, f"http://127.0.0.1:{config.marketdata.port}"
        fleet = Fleet()
        try:
            fleet.start(service("engine", config, quiet=True, cwd=ROOT))
            server = fleet.start(service("marketdata", config, quiet=True, cwd=ROOT))
            keys = KeyDirectory(config.keys_dir).client("admin")
            asyncio.run(seed(endpoint, keys))
            time.sleep(2)
            l2_per_s = asyncio.run(cached_l2(base, args.seconds, args.concurrency))
            print(
                f"cached L2: {l2_per_s:,.0f} requests/s ({args.concurrency} connections)",
                flush=True,
            )
            result = asyncio.run(fan_out(
                base, endpoint, keys, server.pid, args.subscribers, args.symbols_each,
                args.orders_per_s, args.seconds,
            ))  # fmt: skip
            result["cached_l2_per_s"] = round(l2_per_s, 1)
            print(json.dumps(result), flush=True)
        finally:
            fleet.stop()


if __name__ == "__main__":
    main()
