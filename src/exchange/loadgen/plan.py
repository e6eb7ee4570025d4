"""The load, decided before the first order is sent: open loop, seeded, pure.

Arrival times are fixed in advance at the target rate (Poisson or evenly
spaced), so the generator never waits for the server: a slow server shows up
as latency measured from these times, not as a lower rate. Each arrival names
a user and an order from a realistic mix:

- passive limit orders a few ticks behind the reference price (they rest);
- cancels of one of the same user's earlier passive orders;
- marketable limit orders (IOC) priced through the makers' first levels;
- market orders (IOC), whose round trip is the figure the seed asks for.

Every price is a multiple of the tick inside the symbol's band, every
quantity a multiple of the lot: integers only. Users sell only symbols they
hold (`holdings`), so a funded user never runs short of shares; each user's
first order can be a market order, so every user gets at least one fill.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    PASSIVE = "passive"
    CANCEL = "cancel"
    MARKETABLE = "marketable"
    MARKET = "market"


@dataclass(frozen=True, slots=True)
class Symbol:
    """What the plan needs of an instrument (from GET /v1/symbols)."""

    symbol: str
    tick: int
    lot: int
    reference: int
    low: int
    high: int
    max_quantity: int

    @classmethod
    def from_api(cls, entry: Mapping[str, Any]) -> Symbol:
        return cls(
            str(entry["symbol"]),
            int(entry["tickSize"]),
            int(entry["lotSize"]),
            int(entry["referencePrice"]),
            int(entry["lowPrice"]),
            int(entry["highPrice"]),
            int(entry["maxOrderQuantity"]),
        )

    def on_tick(self, price: int) -> int:
        """The nearest price on the tick inside the band."""
        lowest = -(-self.low // self.tick) * self.tick
        highest = self.high // self.tick * self.tick
        price = round(price / self.tick) * self.tick
        return min(max(price, lowest), highest)

    @property
    def mid(self) -> int:
        return self.on_tick(self.reference)


@dataclass(frozen=True)
class Mix:
    """Shares of each kind of arrival; passive orders take what is left."""

    market: float = 0.15
    cancel: float = 0.20
    marketable: float = 0.10

    def __post_init__(self) -> None:
        shares = (self.market, self.cancel, self.marketable)
        if any(s < 0 for s in shares) or sum(shares) > 1:
            raise ValueError("the shares must be >= 0 and add up to at most 1")

    @property
    def passive(self) -> float:
        return 1 - self.market - self.cancel - self.marketable


@dataclass(frozen=True)
class PlanConfig:
    users: int
    rate: float
    """Arrivals per second."""
    seconds: float
    seed: int = 1
    mix: Mix = Mix()
    arrivals: str = "poisson"
    """"poisson" (exponential gaps) or "uniform" (evenly spaced)."""
    tag: str = "b"
    """Prefix of every client order id: a new tag per run keeps ids unique per account."""
    holdings: int = 5
    """Symbols each user holds shares of (and sells)."""
    passive_ticks: int = 10
    """Passive orders rest 1..passive_ticks ticks behind the mid."""
    maker_levels: int = 3
    """The makers rest 1..maker_levels ticks away from the mid."""
    max_lots: int = 20
    """An order is 10 to 10 * max_lots lots."""
    first_order_market: bool = True
    """Each user's first arrival is a market order (so every user gets a fill)."""
    first_user: int = 0
    """The population index of this plan's user 0: one generator process of several plans
    for users first_user.. (their holdings, `holdings`, follow the population index)."""

    def __post_init__(self) -> None:
        if self.users < 1 or self.rate <= 0 or self.seconds <= 0:
            raise ValueError("users, rate and seconds must be positive")
        if self.arrivals not in ("poisson", "uniform"):
            raise ValueError("arrivals must be poisson or uniform")


@dataclass(frozen=True, slots=True)
class Arrival:
    n: int
    at: float
    """Seconds after the start of the run."""
    user: int
    kind: Kind
    symbol: str
    side: str
    """"buy" or "sell" (for a cancel: the side of the order it cancels)."""
    price: int
    """0 for market orders; for a cancel, the canceled order's price."""
    quantity: int
    time_in_force: str
    client_order_id: str
    target: int = -1
    """For a cancel: `n` of the order it cancels (the same user's, earlier)."""


def holdings(user: int, symbols: Sequence[Symbol], count: int) -> list[Symbol]:
    """The symbols `user` holds shares of: consecutive ones, spread over the list."""
    count = min(count, len(symbols))
    return [symbols[(user * count + k) % len(symbols)] for k in range(count)]


def arrival_times(config: PlanConfig, rng: random.Random) -> list[float]:
    """Scheduled arrivals in [0, seconds), fixed before the run."""
    if config.arrivals == "uniform":
        total = int(config.rate * config.seconds)
        return [n / config.rate for n in range(total)]
    times: list[float] = []
    at = rng.expovariate(config.rate)
    while at < config.seconds:
        times.append(at)
        at += rng.expovariate(config.rate)
    return times


def build_plan(config: PlanConfig, symbols: Sequence[Symbol]) -> list[Arrival]:
    """The whole run: the same config and symbols give the same plan."""
    return list(iter_plan(config, symbols))


def iter_plan(config: PlanConfig, symbols: Sequence[Symbol]) -> Iterator[Arrival]:
    """The plan one arrival at a time (a run of millions need not hold them all)."""
    if not symbols:
        raise ValueError("no symbols to trade")
    rng = random.Random(config.seed)
    times = arrival_times(config, rng)
    order = list(range(config.users))
    rng.shuffle(order)  # round robin over a shuffled order: each user as busy as the next
    first = config.first_user
    held = [holdings(first + u, symbols, config.holdings) for u in range(config.users)]
    resting: list[list[Arrival]] = [[] for _ in range(config.users)]
    started: set[int] = set()
    mix = config.mix
    for n, at in enumerate(times):
        user = order[n % config.users]
        draw = rng.random()
        first = config.first_order_market and user not in started
        if first or draw < mix.market:
            kind = Kind.MARKET
        elif draw < mix.market + mix.marketable:
            kind = Kind.MARKETABLE
        elif draw < mix.market + mix.marketable + mix.cancel and resting[user]:
            kind = Kind.CANCEL
        else:
            kind = Kind.PASSIVE
        started.add(user)
        coid = f"{config.tag}-{n}"
        if kind is Kind.CANCEL:
            target = resting[user].pop(rng.randrange(len(resting[user])))
            yield Arrival(n, at, user, kind, target.symbol, target.side, target.price,
                          target.quantity, target.time_in_force, coid, target.n)  # fmt: skip
            continue
        side = "buy" if rng.random() < 0.5 else "sell"
        symbol = rng.choice(held[user]) if side == "sell" else rng.choice(symbols)
        lots = 10 * rng.randint(1, config.max_lots)
        quantity = min(lots * symbol.lot, symbol.max_quantity // symbol.lot * symbol.lot)
        sign = 1 if side == "buy" else -1
        if kind is Kind.MARKET:
            price, tif = 0, "ioc"
        elif kind is Kind.MARKETABLE:
            ticks = rng.randint(config.maker_levels, config.maker_levels + 3)
            price, tif = symbol.on_tick(symbol.mid + sign * ticks * symbol.tick), "ioc"
        else:
            ticks = rng.randint(1, config.passive_ticks)
            price, tif = symbol.on_tick(symbol.mid - sign * ticks * symbol.tick), "day"
        arrival = Arrival(n, at, user, kind, symbol.symbol, side, price, quantity, tif, coid)
        if kind is Kind.PASSIVE:
            resting[user].append(arrival)
        yield arrival


@dataclass(frozen=True, slots=True)
class MakerOrder:
    maker: int
    symbol: str
    side: str
    price: int
    quantity: int


def maker_orders(
    symbols: Sequence[Symbol], makers: int, levels: int, quantity: int
) -> list[MakerOrder]:
    """Resting liquidity on both sides of every symbol, 1..levels ticks from the mid."""
    orders: list[MakerOrder] = []
    for maker in range(makers):
        for symbol in symbols:
            size = max(symbol.lot, min(quantity, symbol.max_quantity) // symbol.lot * symbol.lot)
            for level in range(1, levels + 1):
                for side, sign in (("buy", -1), ("sell", 1)):
                    price = symbol.on_tick(symbol.mid + sign * level * symbol.tick)
                    orders.append(MakerOrder(maker, symbol.symbol, side, price, size))
    return orders
