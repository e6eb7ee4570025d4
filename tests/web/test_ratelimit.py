"""Token buckets: bursts, exact waits, refill caps, bounded memory; a fake clock, no sleeping."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.web.ratelimit import TokenBuckets, retry_after_header


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def buckets(rate: float, burst: int, max_keys: int = 100_000) -> tuple[TokenBuckets, FakeClock]:
    clock = FakeClock()
    return TokenBuckets(rate, burst, max_keys=max_keys, clock=clock), clock


def test_burst_is_allowed_then_refused() -> None:
    limiter, _ = buckets(rate=1.0, burst=3)
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") > 0


def test_wait_is_exactly_the_time_to_refill() -> None:
    limiter, clock = buckets(rate=4.0, burst=2)
    assert limiter.take("k") == limiter.take("k") == 0.0
    assert limiter.take("k") == 0.25
    clock.advance(0.125)
    assert limiter.take("k") == 0.125
    clock.advance(0.125)
    assert limiter.take("k") == 0.0
    assert limiter.take("k") == 0.25


def test_a_refused_take_takes_nothing() -> None:
    limiter, clock = buckets(rate=1.0, burst=1)
    assert limiter.take("k") == 0.0
    clock.advance(0.5)
    assert limiter.take("k") == 0.5
    assert limiter.take("k") == 0.5
    clock.advance(0.5)
    assert limiter.take("k") == 0.0


def test_refill_over_time_stops_at_the_burst() -> None:
    limiter, clock = buckets(rate=2.0, burst=3)
    for _ in range(3):
        assert limiter.take("k") == 0.0
    clock.advance(1.0)  # two tokens back
    assert limiter.take("k") == limiter.take("k") == 0.0
    assert limiter.take("k") == 0.5
    clock.advance(3600.0)  # long idle: full, not 7200 tokens
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == 0.5


def test_keys_are_independent() -> None:
    limiter, _ = buckets(rate=1.0, burst=2)
    assert limiter.take("a") == limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    assert limiter.take("b") == limiter.take("b") == 0.0
    assert limiter.take("b") > 0
    assert len(limiter) == 2


def test_cost_above_one() -> None:
    limiter, clock = buckets(rate=1.0, burst=5)
    assert limiter.take("k", cost=3) == 0.0
    assert limiter.take("k", cost=3) == 1.0  # two left, one short
    assert limiter.take("k", cost=2) == 0.0
    assert limiter.take("k", cost=5) == 5.0
    clock.advance(5.0)
    assert limiter.take("k", cost=5) == 0.0


@pytest.mark.parametrize("cost", [4, 100, 0, -1])
def test_cost_outside_one_to_burst_is_an_error(cost: int) -> None:
    limiter, _ = buckets(rate=1.0, burst=3)
    with pytest.raises(ValueError, match="cost"):
        limiter.take("k", cost=cost)
    assert len(limiter) == 0


@pytest.mark.parametrize(
    ("rate", "burst", "max_keys"),
    [(0.0, 1, 1), (-1.0, 1, 1), (math.nan, 1, 1), (-math.inf, 1, 1), (1.0, 0, 1), (1.0, 1, 0)],
)
def test_bad_settings_are_refused(rate: float, burst: int, max_keys: int) -> None:
    with pytest.raises(ValueError):
        TokenBuckets(rate, burst, max_keys=max_keys)


def test_memory_is_bounded_by_max_keys() -> None:
    limiter, clock = buckets(rate=1.0, burst=1, max_keys=10)
    for i in range(1_000):
        limiter.take(f"ip-{i}")
        clock.advance(0.001)
        assert len(limiter) <= 10
    assert len(limiter) == 10


def test_least_recently_used_is_evicted_and_starts_full_again() -> None:
    limiter, _ = buckets(rate=0.001, burst=1, max_keys=3)
    for key in "abc":
        assert limiter.take(key) == 0.0
    assert limiter.take("d") == 0.0  # evicts "a", the oldest
    assert len(limiter) == 3
    assert limiter.take("a") == 0.0  # full again; evicts "b"
    assert limiter.take("c") > 0 and limiter.take("d") > 0
    assert limiter.take("b") == 0.0


def test_recently_used_key_is_not_evicted() -> None:
    limiter, _ = buckets(rate=0.001, burst=1, max_keys=3)
    for key in "abc":
        assert limiter.take(key) == 0.0
    assert limiter.take("a") > 0  # refused, but used: now the most recent
    assert limiter.take("d") == 0.0  # evicts "b", not "a"
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0


def test_infinite_rate_always_allows_and_stores_nothing() -> None:
    limiter, _ = buckets(rate=math.inf, burst=1)
    assert all(limiter.take(f"k{i % 7}") == 0.0 for i in range(1_000))
    assert len(limiter) == 0
    with pytest.raises(ValueError):
        limiter.take("k", cost=2)


def test_a_clock_stepping_back_refills_nothing() -> None:
    limiter, clock = buckets(rate=1.0, burst=2)
    assert limiter.take("k") == limiter.take("k") == 0.0
    clock.advance(-10.0)
    assert limiter.take("k") == 1.0
    clock.advance(1.0)
    assert limiter.take("k") == 0.0


def test_default_clock_is_monotonic() -> None:
    assert TokenBuckets(1.0, 1).take("k") == 0.0


@pytest.mark.parametrize(
    ("wait", "header"),
    [(0.0, "1"), (0.01, "1"), (0.999, "1"), (1.0, "1"), (1.2, "2"), (2.0, "2"), (59.5, "60")],
)
def test_retry_after_header_rounds_up_to_whole_seconds(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


steps = st.lists(
    st.tuples(st.floats(0.0, 3.0, allow_nan=False), st.integers(1, 8)), min_size=1, max_size=60
)


@settings(max_examples=300, deadline=None)
@given(rate=st.floats(0.01, 50.0), burst=st.integers(1, 8), steps=steps)
def test_tokens_granted_in_any_window_never_exceed_burst_plus_refill(
    rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    limiter, clock = buckets(rate, burst)
    times: list[float] = []
    granted: list[int] = []
    for advance, cost in steps:
        clock.advance(advance)
        times.append(clock.now)
        granted.append(cost if cost <= burst and limiter.take("k", cost) == 0.0 else 0)
    for i in range(len(times)):
        total = 0
        for j in range(i, len(times)):
            total += granted[j]
            allowed = burst + rate * (times[j] - times[i])
            assert total <= allowed + 1e-9 * max(1.0, allowed)


@settings(max_examples=300, deadline=None)
@given(rate=st.floats(0.01, 50.0), burst=st.integers(1, 8), steps=steps)
def test_the_wait_is_truthful(rate: float, burst: int, steps: list[tuple[float, int]]) -> None:
    """Refused with `wait`: still refused halfway there, granted once it has passed."""
    limiter, clock = buckets(rate, burst)
    for advance, wanted in steps:
        clock.advance(advance)
        cost = min(wanted, burst)
        wait = limiter.take("k", cost)
        if wait:
            clock.advance(wait / 2)
            assert 0 < limiter.take("k", cost) <= wait
            clock.advance(wait / 2 * (1 + 1e-9) + 1e-9)
            assert limiter.take("k", cost) == 0.0
