"""A seeded random trading session as a list of command batches, for engine tests."""

from __future__ import annotations

import random
from collections.abc import Iterator

from exchange.core import (
    AddInstrument,
    CancelOrder,
    CloseSession,
    Command,
    Deposit,
    NewOrder,
    OpenAccount,
    OpenSession,
    OrderType,
    Side,
    TimeInForce,
    Withdraw,
)

SYMBOLS = ("AAA", "BBB", "CCC")
ACCOUNTS = tuple(range(1, 7))


def setup_batch() -> list[Command]:
    batch: list[Command] = [
        AddInstrument(
            symbol=s,
            name=s.title(),
            tick_size=10,
            lot_size=10,
            reference_price=10_000,
            max_order_quantity=100_000,
            daily_limit=50_000,
        )
        for s in SYMBOLS
    ]
    for account in ACCOUNTS:
        batch.append(OpenAccount(owner=f"owner-{account}"))  # a new core gives 1, 2, ...
        batch.append(
            Deposit(account=account, asset="IRR", amount=5 * 10**9, reference=f"cash-{account}")
        )
        batch.extend(
            Deposit(account=account, asset=s, amount=20_000, reference=f"sh-{account}-{s}")
            for s in SYMBOLS
        )
    batch.append(OpenSession(trading_day=20260103))
    return batch


def random_batches(seed: int, batches: int, max_batch: int = 40) -> list[list[Command]]:
    """Orders, cancels (some invalid), deposits/withdrawals and day rolls, in batches."""
    return list(iter_batches(seed, batches, max_batch))


def iter_batches(seed: int, batches: int, max_batch: int = 40) -> Iterator[list[Command]]:
    rng = random.Random(seed)
    next_coid = 0
    day = 20260103
    for _ in range(batches):
        batch: list[Command] = []
        for _ in range(rng.randint(1, max_batch)):
            u = rng.random()
            account = rng.choice(ACCOUNTS)
            if u < 0.65:
                next_coid += 1
                market = rng.random() < 0.1
                batch.append(
                    NewOrder(
                        account=account,
                        client_order_id=f"c{next_coid}",
                        symbol=rng.choice(SYMBOLS),
                        side=rng.choice((Side.BUY, Side.SELL)),
                        order_type=OrderType.MARKET if market else OrderType.LIMIT,
                        time_in_force=rng.choice(list(TimeInForce)),
                        price=0 if market else rng.randint(990, 1010) * 10,
                        quantity=rng.randint(1, 30) * 10,
                    )
                )
            elif u < 0.9:
                batch.append(
                    CancelOrder(
                        account=account, client_order_id=f"c{rng.randint(1, next_coid + 1)}"
                    )
                )
            elif u < 0.95:
                asset = rng.choice(("IRR", *SYMBOLS))
                kind = Deposit if rng.random() < 0.5 else Withdraw
                batch.append(
                    kind(
                        account=account,
                        asset=asset,
                        amount=rng.randint(1, 1000) * 10,
                        reference=f"m{rng.getrandbits(48)}",
                    )
                )
            elif u < 0.96:
                day += 1 if day % 100 < 28 else 0
                batch.extend([CloseSession(), OpenSession(trading_day=day)])
            else:  # a retry of an earlier order: must be recognised as a duplicate
                batch.append(
                    NewOrder(
                        account=account,
                        client_order_id=f"c{rng.randint(1, next_coid + 1)}",
                        symbol=SYMBOLS[0],
                        side=Side.BUY,
                        order_type=OrderType.LIMIT,
                        time_in_force=TimeInForce.DAY,
                        price=10_000,
                        quantity=10,
                    )
                )
        yield batch
