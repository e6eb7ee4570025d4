"""`exchange run`: start the exchange on its embedded defaults, with demo traffic.

Starts the engine process (data in ./var, the 100 listed symbols, demo mode:
the calendar always open), opens and funds ten demo accounts through the
engine's own API (idempotent: a second run finds them there), sends a burst
of random orders through the engine client, prints what happened, and keeps
the engine running until Ctrl-C. The next run continues from the same
state. The REST/WebSocket gateway joins here when it lands.
"""

import asyncio
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from exchange.core import (
    Command,
    Deposit,
    NewOrder,
    OpenAccount,
    OrderType,
    Side,
    TimeInForce,
)
from exchange.core.commands import AddInstrument
from exchange.core.events import Fill, OrderAccepted, OrderRejected
from exchange.engine.client import EngineClient
from exchange.refdata import load_instruments

DEMO_ACCOUNTS = range(1, 11)
ENDPOINT = "tcp://127.0.0.1:5555"
PUBLISH = "tcp://127.0.0.1:5556"


def _demo_setup() -> list[Command]:
    """Accounts with cash and shares of every symbol; fixed references make it idempotent."""
    setup: list[Command] = []
    for account in DEMO_ACCOUNTS:
        setup.append(OpenAccount(account))
        setup.append(Deposit(account, "IRR", 10**13, f"demo-cash-{account}"))
        setup.extend(
            Deposit(account, i.symbol, 1_000_000, f"demo-{i.symbol}-{account}")
            for i in load_instruments()
        )
    return setup


def _random_order(rng: random.Random, instruments: list[AddInstrument], n: int) -> NewOrder:
    instrument = rng.choice(instruments)
    side = rng.choice((Side.BUY, Side.SELL))
    quantity = rng.randint(1, 20) * 10 * instrument.lot_size
    if rng.random() < 0.1:
        return NewOrder(
            rng.choice(DEMO_ACCOUNTS), f"demo-{time.time_ns()}-{n}", instrument.symbol, side,
            OrderType.MARKET, TimeInForce.IOC, 0, quantity,
        )  # fmt: skip
    reference, tick = instrument.reference_price, instrument.tick_size
    offset = rng.randint(0, max(reference // 100 // tick, 1)) * tick  # within about 1 %
    aggressive = rng.random() < 0.3
    price = reference + offset if (side is Side.BUY) == aggressive else reference - offset
    return NewOrder(
        rng.choice(DEMO_ACCOUNTS), f"demo-{time.time_ns()}-{n}", instrument.symbol, side,
        OrderType.LIMIT, TimeInForce.DAY, max(price, tick), quantity,
    )  # fmt: skip


async def _drive(endpoint: str, orders: int, seed: int) -> dict[str, int]:
    client = EngineClient(endpoint, timeout=1.0, deadline=60)
    counts = {"accepted": 0, "rejected": 0, "trades": 0}
    try:
        for command in _demo_setup():
            await client.submit(command)
        instruments = load_instruments()
        rng = random.Random(seed + time.time_ns())
        queue = iter(range(orders))

        async def sender() -> None:
            for n in queue:
                reply = await client.submit(_random_order(rng, instruments, n))
                for event in reply.events:
                    if type(event) is OrderAccepted:
                        counts["accepted"] += 1
                    elif type(event) is OrderRejected:
                        counts["rejected"] += 1
                    elif type(event) is Fill and event.aggressor:
                        counts["trades"] += 1

        await asyncio.gather(*(sender() for _ in range(8)))
    finally:
        await client.close()
    return counts


def run_demo(
    root: Path,
    *,
    orders: int,
    seed: int,
    wait: bool = True,
    endpoint: str = ENDPOINT,
    publish: str = PUBLISH,
) -> int:
    root.mkdir(parents=True, exist_ok=True)
    engine = subprocess.Popen(
        [sys.executable, "-m", "exchange", "engine", "--data-dir", str(root),
         "--endpoint", endpoint, "--publish", publish, "--calendar", "always-open"],
    )  # fmt: skip
    try:
        started = time.perf_counter()
        counts = asyncio.run(_drive(endpoint, orders, seed))
        elapsed = time.perf_counter() - started
        print(
            f"demo: {orders} orders through the engine in {elapsed:.1f} s: "
            f"{counts['accepted']} accepted, {counts['rejected']} rejected, "
            f"{counts['trades']} trades",
            flush=True,
        )
        print(
            f"engine running: requests on {endpoint}, batches on {publish}, data in {root}; "
            f"inspect with `exchange replay {root}`",
            flush=True,
        )
        if wait:
            print("Ctrl-C stops it; the next `make run` continues from the same state.", flush=True)
            engine.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if engine.poll() is None:
            engine.send_signal(signal.SIGTERM)
            engine.wait(timeout=30)
    return 0 if engine.returncode in (0, -signal.SIGTERM) else 1
