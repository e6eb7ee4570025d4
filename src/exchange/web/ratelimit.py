"""Token buckets for the gateway's rate limits: per credential, per IP, per account.

Why: one broker's runaway script, or one address's flood, must not starve
everyone else or reach the engine. The gateway keeps a bucket per credential,
per client IP and per account (order entry), and refuses with
429 Too Many Requests and a Retry-After header once a bucket is empty.

A request takes `cost` tokens; a bucket refills at `rate` tokens per second
up to `burst`, and a new key starts full. Pure: no I/O, the clock is injected.
Memory is bounded: at most `max_keys` buckets, least recently used evicted
first. An evicted key simply starts full again, which only ever errs on the
side of serving (and only for keys idle longer than `max_keys` others).
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class RateLimiter(Protocol):
    """What a limit needs: take `cost` tokens for `key`; 0.0, or the seconds to wait."""

    def take(self, key: str, cost: int = 1) -> float: ...


class TokenBuckets:
    """A token bucket per key: `rate` tokens per second, holding at most `burst`.

    `rate = math.inf` disables the limiter: every take succeeds, nothing is stored.
    """

    __slots__ = ("_buckets", "burst", "clock", "max_keys", "rate")

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not rate > 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate must be > 0, burst and max_keys >= 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """key -> (tokens, time of last refill), least recently used first"""

    def take(self, key: str, cost: int = 1) -> float:
        """0.0 if `cost` tokens were taken, else the seconds until they will be there.

        Nothing is taken when refused. `cost` must be between 1 and `burst`.
        """
        if not 1 <= cost <= self.burst:
            raise ValueError(f"cost {cost} must be between 1 and the burst {self.burst}")
        if math.isinf(self.rate):
            return 0.0
        now = self.clock()
        buckets = self._buckets
        state = buckets.get(key)
        if state is None:
            tokens = float(self.burst)
            if len(buckets) >= self.max_keys:
                buckets.popitem(last=False)
        else:
            elapsed = max(0.0, now - state[1])  # a clock that steps back refills nothing
            tokens = min(float(self.burst), state[0] + elapsed * self.rate)
            buckets.move_to_end(key)
        if tokens >= cost:
            buckets[key] = (tokens - cost, now)
            return 0.0
        buckets[key] = (tokens, now)
        return (cost - tokens) / self.rate

    def __len__(self) -> int:
        """How many buckets are held (at most `max_keys`)."""
        return len(self._buckets)


def retry_after_header(wait: float) -> str:
    """Whole seconds for HTTP Retry-After: rounded up, at least 1."""
    return str(max(1, math.ceil(wait)))
