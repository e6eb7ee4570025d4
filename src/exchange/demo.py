"""A short journaled trading demo on the 100 listed symbols.

Stands in for `exchange run` until the engine process and gateways exist:
it lists the instruments, opens and funds demo accounts on first start,
opens today's session and trades random orders through the journaled
engine, in batches, as the engine loop will. A second run continues from
the same state (snapshot + journal in the data directory).
"""

import random
import time
from datetime import UTC, datetime
from pathlib import Path

from exchange.core import (
    Command,
    Deposit,
    NewOrder,
    OpenAccount,
    OpenSession,
    OrderType,
    Side,
    TimeInForce,
    state_hash,
)
from exchange.engine import JournaledCore
from exchange.refdata import load_instruments

DEMO_ACCOUNTS = range(1, 11)
BATCH = 100


def _setup(engine: JournaledCore) -> None:
    setup: list[Command] = list(load_instruments())
    for account in DEMO_ACCOUNTS:
        setup.append(OpenAccount(account))
        setup.append(Deposit(account, "IRR", 10**13, f"demo-cash-{account}"))
        setup.extend(
            Deposit(account, i.symbol, 1_000_000, f"demo-{i.symbol}-{account}")
            for i in load_instruments()
        )
    engine.process(setup)


def _random_order(rng: random.Random, engine: JournaledCore, n: int) -> NewOrder:
    instrument = rng.choice(list(engine.core.instruments.values()))
    side = rng.choice((Side.BUY, Side.SELL))
    kind = rng.random()
    quantity = rng.randint(1, 20) * 10 * instrument.lot_size
    if kind < 0.1:
        order_type, tif, price = OrderType.MARKET, TimeInForce.IOC, 0
    else:
        ticks = (instrument.high_price - instrument.low_price) // instrument.tick_size
        offset = rng.randint(0, max(ticks // 10, 1)) * instrument.tick_size
        mid = instrument.reference_price
        price = mid - offset if side is Side.BUY else mid + offset
        if kind < 0.3:  # marketable
            price = mid + offset if side is Side.BUY else mid - offset
        price = min(max(price, instrument.low_price), instrument.high_price)
        order_type, tif = OrderType.LIMIT, TimeInForce.DAY
    return NewOrder(
        rng.choice(DEMO_ACCOUNTS),
        f"demo-{time.time_ns()}-{n}",
        instrument.symbol,
        side,
        order_type,
        tif,
        price,
        quantity,
    )


def run_demo(root: Path, *, orders: int, seed: int) -> int:
    root.mkdir(parents=True, exist_ok=True)
    with JournaledCore(root) as engine:
        recovered = engine.recovered
        print(
            f"data directory {root}: recovered seq {recovered.last_seq} "
            f"(snapshot {recovered.snapshot_seq}, {recovered.commands} commands replayed)"
        )
        if not engine.core.instruments:
            _setup(engine)
            print(f"listed {len(engine.core.instruments)} symbols, {len(DEMO_ACCOUNTS)} accounts")
        today = int(datetime.now(UTC).strftime("%Y%m%d"))
        if not engine.core.session_open:
            engine.process([OpenSession(max(today, engine.core.trading_day))])
        rng = random.Random(seed + engine.last_seq)
        trades_before = engine.core.next_trade_id
        started = time.perf_counter()
        for start in range(0, orders, BATCH):
            count = min(BATCH, orders - start)
            engine.process([_random_order(rng, engine, start + i) for i in range(count)])
        elapsed = time.perf_counter() - started
        engine.snapshot()
        core = engine.core
        print(
            f"{orders} orders in {elapsed:.2f} s ({orders / elapsed:,.0f}/s), "
            f"{core.next_trade_id - trades_before} trades, "
            f"{sum(1 for o in core.orders.values() if o.is_live)} live orders, "
            f"journal at seq {engine.last_seq}"
        )
        print(f"state hash {state_hash(core)}")
        print(f"check it: exchange replay {root}")
    return 0
