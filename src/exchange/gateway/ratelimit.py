"""Token buckets for the gateway's rate limits: per credential, per IP, per account.

A request takes a token; a bucket refills at `rate` tokens per second up to
`burst`. When it is empty the caller gets 429 with Retry-After = the time
until a token is back. Pure: the clock is injected. Memory is bounded: at
most `max_keys` buckets, least recently used evicted first (an evicted key
simply starts full again, which only ever errs on the side of serving).
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
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
        """key -> (tokens, time of last refill)"""

    def take(self, key: str, cost: int = 1) -> float:
        """0.0 if `cost` tokens were taken, else the seconds until they will be there."""
        if cost > self.burst:
            raise ValueError(f"cost {cost} exceeds the burst {self.burst}")
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
            tokens = min(float(self.burst), state[0] + (now - state[1]) * self.rate)
            buckets.move_to_end(key)
        if tokens >= cost:
            buckets[key] = (tokens - cost, now)
            return 0.0
        buckets[key] = (tokens, now)
        return (cost - tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(wait: float) -> str:
    """Whole seconds for HTTP Retry-After: rounded up, at least 1."""
    return str(max(1, math.ceil(wait)))
