"""Round trip through the engine process over ZeroMQ (no HTTP gateway yet).

Starts `exchange engine` (always-open calendar, fresh data directory), opens
funded accounts, then runs `--senders` concurrent closed-loop senders in one
asyncio client process: each keeps one request in flight, placing passive
limit orders near the reference price and, every `--market-every` orders, a
market order against them. Measures, per request, the time from submit to
the durable reply, and separately the seed's round trip: a market order in,
its fill out. Closed loop, so a slow server slows the load: this is a
capacity probe, not the open-loop latency test of the load-generator issue.

    python bench/engine.py --orders 20000 --senders 8 [--processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import tempfile
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event
from pathlib import Path

from exchange.config import ExchangeConfig, updated
from exchange.core import Deposit, NewOrder, OrderType, Side, TimeInForce
from exchange.core.events import Fill
from exchange.engine.client import EngineClient
from exchange.engine.curve import ClientKeys, KeyDirectory
from exchange.launch import on_free_ports, service
from exchange.loadgen.processes import cpu_seconds
from exchange.refdata import load_instruments

ROOT = Path(__file__).resolve().parent.parent


def percentiles(values_ns: list[int]) -> dict[str, float]:
    values = sorted(values_ns)
    if not values:
        return {}

    def at(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))] / 1e6, 3)

    return {"p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": at(1.0)}


async def load(
    endpoint: str,
    keys: ClientKeys,
    orders: int,
    senders: int,
    market_every: int,
    tag: str = "",
    go: Callable[[], None] | None = None,
) -> dict[str, object]:
    """`senders` closed loops over one client; `go` (in its thread) is awaited after the
    accounts are set up, so that several processes start their timed part together."""
    client = EngineClient(endpoint, keys=keys, timeout=5.0)
    instruments = load_instruments()[:20]
    accounts = []
    for index in range(2 * senders):
        account = await client.open_account(f"owner-{tag}{index}")
        accounts.append(account)
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

    if go is not None:
        await asyncio.to_thread(go)
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
        "all_ns": all_ns,
        "market_ns": market_ns,
    }


def _worker(
    endpoint: str, keys: ClientKeys, args: argparse.Namespace, index: int,
    ready: mp.Queue[dict[str, object] | None], go: Event,
) -> None:  # fmt: skip
    """One client process: set up, say ready, wait for the start, load, report."""

    def wait() -> None:
        ready.put(None)
        go.wait()

    orders = args.orders // args.processes
    result = asyncio.run(
        load(endpoint, keys, orders, args.senders, args.market_every, f"p{index}-", wait)
    )
    ready.put(result)


def load_in_processes(
    endpoint: str, keys: ClientKeys, args: argparse.Namespace
) -> dict[str, object]:
    """`--processes` client processes at once; throughput over the wall time of all of them."""
    context = mp.get_context("fork")
    ready: mp.Queue[dict[str, object] | None] = context.Queue()
    go = context.Event()
    workers = [
        context.Process(target=_worker, args=(endpoint, keys, args, i, ready, go))
        for i in range(args.processes)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        assert ready.get(timeout=300) is None
    started = time.perf_counter()
    go.set()
    results = [ready.get(timeout=600) for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    parts = [r for r in results if r is not None]
    all_ns = [v for r in parts for v in r["all_ns"]]  # type: ignore[attr-defined]
    market_ns = [v for r in parts for v in r["market_ns"]]  # type: ignore[attr-defined]
    orders = len(all_ns)
    return {
        "orders": orders,
        "processes": args.processes,
        "senders": args.senders,
        "orders_per_s": round(orders / elapsed),
        "request_ms": percentiles(all_ns),
        "market_orders_filled": len(market_ns),
        "market_rtt_ms": percentiles(market_ns),
        "resends": sum(int(r["resends"]) for r in parts),  # type: ignore[call-overload]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--market-every", type=int, default=5)
    parser.add_argument("--durability", choices=["write", "fsync"], default="write")
    parser.add_argument(
        "--processes", type=int, default=1, help="client processes, each with --senders"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="exchange-bench-") as tmp:
        config = updated(
            on_free_ports(ExchangeConfig(), Path(tmp)),
            {"engine.calendar": "always-open", "engine.durability": args.durability},
        )
        engine = service("engine", config, quiet=True, cwd=ROOT).start()
        try:
            engine.wait_ready()
            keys = KeyDirectory(config.keys_dir).client("admin")
            before = cpu_seconds(engine.pid) or 0.0
            result = load_in_processes(config.engine.endpoint, keys, args)
            used = (cpu_seconds(engine.pid) or 0.0) - before
        finally:
            engine.stop()
    result["durability"] = args.durability
    # The engine's CPU over the whole run (accounts and deposits included), per order: the
    # figure a noisy shared host does not move much.
    result["engine_cpu_us_per_order"] = round(used / int(result["orders"]) * 1e6, 1)  # type: ignore[call-overload]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
