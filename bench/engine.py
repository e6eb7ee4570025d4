"""Round trip through the engine process over ZeroMQ (no HTTP gateway yet).

Starts `exchange engine` (always-open calendar, fresh data directory), opens
funded accounts, then runs `--senders` concurrent closed-loop senders in one
asyncio client process: each keeps one request in flight, placing passive
limit orders near the reference price and, every `--market-every` orders, a
market order against them. Measures, per request, the time from submit to
the durable reply, and separately the seed's round trip: a market order in,
its fill out. Closed loop, so a slow server slows the load: this is a
capacity probe, not the open-loop latency test of the load-generator issue.

    python bench/engine.py --orders 20000 --senders 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from exchange.core import Deposit, NewOrder, OrderType, Side, TimeInForce
from exchange.core.events import Fill
from exchange.engine.client import EngineClient
from exchange.engine.ports import free_ports
from exchange.refdata import load_instruments

ROOT = Path(__file__).resolve().parent.parent


def percentiles(values_ns: list[int]) -> dict[str, float]:
    values = sorted(values_ns)
    if not values:
        return {}

    def at(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))] / 1e6, 3)

    return {"p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": at(1.0)}


async def load(endpoint: str, orders: int, senders: int, market_every: int) -> dict[str, object]:
    client = EngineClient(endpoint, timeout=5.0)
    instruments = load_instruments()[:20]
    accounts = list(range(1, 2 * senders + 1))
    for account in accounts:
        opened = await client.open_account(f"owner-{account}")
        assert opened == account, "a new engine gives account ids 1, 2, ... in order"
        await client.submit(
            Deposit(account=account, asset="IRR", amount=10**15, reference=f"bench-cash-{account}")
        )
        for i in instruments:
            await client.submit(
                Deposit(
                    account=account,
                    asset=i.symbol,
                    amount=10**7,
                    reference=f"bench-{i.symbol}-{account}",
                )
            )
    all_ns: list[int] = []
    market_ns: list[int] = []
    counter = iter(range(orders))

    async def sender(index: int) -> None:
        buyer, seller = accounts[2 * index], accounts[2 * index + 1]
        for n in counter:
            instrument = instruments[(n // market_every) % len(instruments)]
            if n % market_every == market_every - 1:
                command = NewOrder(
                    account=buyer,
                    client_order_id=f"m{n}",
                    symbol=instrument.symbol,
                    side=Side.BUY,
                    order_type=OrderType.MARKET,
                    time_in_force=TimeInForce.IOC,
                    price=0,
                    quantity=instrument.lot_size * 10,
                )
            else:
                command = NewOrder(
                    account=seller,
                    client_order_id=f"l{n}",
                    symbol=instrument.symbol,
                    side=Side.SELL,
                    order_type=OrderType.LIMIT,
                    time_in_force=TimeInForce.DAY,
                    price=instrument.reference_price,
                    quantity=instrument.lot_size * 10,
                )
            started = time.perf_counter_ns()
            reply = await client.submit(command)
            elapsed = time.perf_counter_ns() - started
            all_ns.append(elapsed)
            if command.order_type is OrderType.MARKET and any(
                type(e) is Fill for e in reply.events
            ):
                market_ns.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(sender(i) for i in range(senders)))
    elapsed = time.perf_counter() - started
    resends = client.resends
    await client.close()
    return {
        "orders": orders,
        "senders": senders,
        "orders_per_s": round(orders / elapsed),
        "request_ms": percentiles(all_ns),
        "market_orders_filled": len(market_ns),
        "market_rtt_ms": percentiles(market_ns),
        "resends": resends,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--market-every", type=int, default=5)
    parser.add_argument("--durability", choices=["write", "fsync"], default="write")
    args = parser.parse_args()
    requests, batches = free_ports(2)
    endpoint = f"tcp://127.0.0.1:{requests}"
    with tempfile.TemporaryDirectory(prefix="exchange-bench-") as tmp:
        engine = subprocess.Popen(
            [sys.executable, "-m", "exchange", "engine", "--data-dir", tmp,
             "--endpoint", endpoint, "--publish", f"tcp://127.0.0.1:{batches}",
             "--calendar", "always-open", "--durability", args.durability],
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            result = asyncio.run(load(endpoint, args.orders, args.senders, args.market_every))
        finally:
            engine.send_signal(signal.SIGTERM)
            engine.wait(timeout=30)
    result["durability"] = args.durability
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
