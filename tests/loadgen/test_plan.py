"""The plan: deterministic, open loop at the asked rate, prices on tick and in band, the mix."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter

import pytest

from exchange.loadgen.plan import (
    Kind,
    Mix,
    PlanConfig,
    Symbol,
    build_plan,
    holdings,
    maker_orders,
)
from exchange.refdata import load_instruments


def listed() -> list[Symbol]:
    """The 100 listed symbols as GET /v1/symbols gives them (band from band_bps)."""
    out = []
    for i in load_instruments():
        width = i.reference_price * i.band_bps // 10_000
        out.append(
            Symbol(i.symbol, i.tick_size, i.lot_size, i.reference_price,
                   i.reference_price - width, i.reference_price + width, i.max_order_quantity)
        )  # fmt: skip
    return out


ODD = [
    Symbol("TICK5", 5, 10, 1_003, 953, 1_053, 5_000),
    Symbol("NARROW", 10, 100, 2_000, 1_990, 2_010, 100_000),
]


def test_same_seed_same_plan_and_another_seed_another() -> None:
    config = PlanConfig(users=50, rate=500, seconds=4, seed=7)
    assert build_plan(config, listed()) == build_plan(config, listed())
    other = build_plan(PlanConfig(users=50, rate=500, seconds=4, seed=8), listed())
    assert other != build_plan(config, listed())


@pytest.mark.parametrize("arrivals", ["poisson", "uniform"])
def test_arrivals_are_fixed_in_advance_at_the_target_rate(arrivals: str) -> None:
    config = PlanConfig(users=10, rate=2_000, seconds=10, arrivals=arrivals)
    plan = build_plan(config, listed())
    times = [a.at for a in plan]
    assert times == sorted(times)
    assert all(0 <= t < config.seconds for t in times)
    assert [a.n for a in plan] == list(range(len(plan)))
    assert abs(len(plan) - 20_000) < 20_000 * 0.03
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.mean(gaps) == pytest.approx(1 / 2_000, rel=0.03)
    if arrivals == "uniform":
        assert len(plan) == 20_000
        assert max(gaps) == pytest.approx(min(gaps))
    else:  # exponential gaps: the standard deviation is the mean
        assert statistics.stdev(gaps) == pytest.approx(1 / 2_000, rel=0.05)


@pytest.mark.parametrize("symbols", [listed(), ODD], ids=["listed", "odd ticks and lots"])
def test_every_price_is_on_tick_in_band_and_every_quantity_whole_lots(
    symbols: list[Symbol],
) -> None:
    by_name = {s.symbol: s for s in symbols}
    plan = build_plan(PlanConfig(users=30, rate=1_000, seconds=5, seed=3), symbols)
    for arrival in plan:
        symbol = by_name[arrival.symbol]
        assert isinstance(arrival.quantity, int) and isinstance(arrival.price, int)
        assert arrival.quantity > 0 and arrival.quantity % symbol.lot == 0
        assert arrival.quantity <= symbol.max_quantity
        if arrival.kind is Kind.MARKET:
            assert arrival.price == 0
        else:
            assert arrival.price % symbol.tick == 0
            assert symbol.low <= arrival.price <= symbol.high
    for order in maker_orders(symbols, makers=2, levels=3, quantity=50_000):
        symbol = by_name[order.symbol]
        assert order.price % symbol.tick == 0 and symbol.low <= order.price <= symbol.high
        assert order.quantity % symbol.lot == 0


def test_passive_orders_rest_behind_the_makers_and_marketable_ones_cross_them() -> None:
    symbols = listed()
    mid = {s.symbol: s.mid for s in symbols}
    plan = build_plan(PlanConfig(users=20, rate=1_000, seconds=3), symbols)
    for a in plan:
        below = a.price < mid[a.symbol]
        if a.kind is Kind.PASSIVE:
            assert below == (a.side == "buy") and a.time_in_force == "day"
        elif a.kind is Kind.MARKETABLE:
            assert below == (a.side == "sell") and a.time_in_force == "ioc"
            assert abs(a.price - mid[a.symbol]) >= 3  # beyond the makers' three levels
    makers = maker_orders(symbols, makers=1, levels=3, quantity=1_000)
    assert {(o.symbol, o.side) for o in makers} == {
        (s.symbol, side) for s in symbols for side in ("buy", "sell")
    }


def test_the_mix_has_the_asked_proportions() -> None:
    mix = Mix(market=0.2, cancel=0.15, marketable=0.1)
    plan = build_plan(
        PlanConfig(users=20, rate=5_000, seconds=4, mix=mix, first_order_market=False), listed()
    )
    counts = Counter(a.kind for a in plan)
    total = len(plan)
    assert counts[Kind.MARKET] / total == pytest.approx(0.2, abs=0.015)
    assert counts[Kind.MARKETABLE] / total == pytest.approx(0.1, abs=0.015)
    assert counts[Kind.CANCEL] / total == pytest.approx(0.15, abs=0.015)
    assert counts[Kind.PASSIVE] / total == pytest.approx(mix.passive, abs=0.015)
    with pytest.raises(ValueError, match="add up"):
        Mix(market=0.6, cancel=0.3, marketable=0.2)


def test_cancels_name_only_the_same_users_earlier_resting_orders_once() -> None:
    plan = build_plan(PlanConfig(users=25, rate=2_000, seconds=3, seed=11), listed())
    canceled: set[int] = set()
    cancels = [a for a in plan if a.kind is Kind.CANCEL]
    assert cancels
    for cancel in cancels:
        target = plan[cancel.target]
        assert target.n < cancel.n
        assert target.user == cancel.user
        assert target.kind is Kind.PASSIVE
        assert (cancel.symbol, cancel.side, cancel.price) == (
            target.symbol, target.side, target.price,
        )  # fmt: skip
        assert target.n not in canceled
        canceled.add(target.n)


def test_users_sell_only_what_they_hold_and_each_starts_with_a_market_order() -> None:
    symbols = listed()
    plan = build_plan(PlanConfig(users=40, rate=1_000, seconds=2), symbols)
    first: dict[int, Kind] = {}
    for a in plan:
        first.setdefault(a.user, a.kind)
        if a.side == "sell" and a.kind is not Kind.CANCEL:
            assert a.symbol in {s.symbol for s in holdings(a.user, symbols, 5)}
    assert set(first) == set(range(40))
    assert set(first.values()) == {Kind.MARKET}
    assert len({a.client_order_id for a in plan}) == len(plan)
    per_user = Counter(a.user for a in plan)
    assert max(per_user.values()) - min(per_user.values()) <= 1  # round robin


def test_a_share_of_the_users_sells_what_its_users_hold_in_the_whole_population() -> None:
    """One generator process of several plans for users 30..39 of the population: their
    holdings are those of users 30..39 (funded by population index), not of users 0..9."""
    symbols = listed()
    plan = build_plan(PlanConfig(users=10, rate=1_000, seconds=2, first_user=30), symbols)
    sells = [a for a in plan if a.side == "sell" and a.kind is not Kind.CANCEL]
    assert sells
    for a in sells:
        assert a.symbol in {s.symbol for s in holdings(30 + a.user, symbols, 5)}
    assert any(
        a.symbol not in {s.symbol for s in holdings(a.user, symbols, 5)} for a in sells
    )  # the local index would have named other symbols
