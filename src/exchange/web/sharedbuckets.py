"""Token buckets in shared memory: one rate limit enforced by every worker of a gateway.

Why: `exchange gateway --workers N` serves one port from N forked
processes and the kernel spreads connections over them (SO_REUSEPORT), so a
credential's requests land on any worker. Buckets kept per process would let
a client through N times its limit. The parent makes one `BucketTable` (an
anonymous shared mmap) before it forks; every worker takes from the same
buckets, so N workers enforce one limit.

The table is set-associative: a key's 64-bit hash picks a set of `WAYS`
slots; a slot holds the hash, the tokens and the time of the last refill. A
key not in its set takes the empty slot or the one idle longest, and starts
full: as with `TokenBuckets`' LRU eviction, a table too small for the keys
only ever errs on the side of serving, and only for keys idle longer than the
others of their set. Hashes are Python's `hash()` of the key's string, whose
seed is random per start (so a client cannot pick colliding keys) and the
same in every forked worker; a worker with another seed (not forked from the
table's maker) is refused at once (`attach`). A set is read and written under
one of `LOCKS` process-shared locks (striped by set). The clock is
CLOCK_MONOTONIC, the same in every process.
"""

import math
import mmap
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.synchronize import Lock

WAYS = 4
LOCKS = 64
_SEED_CHECK = "exchange.web.sharedbuckets"
"""Hashed at creation and at `attach`: equal only in processes that share the hash seed."""


class BucketTable:
    """The shared memory and locks of every shared limiter of one gateway (made before fork)."""

    def __init__(self, sets: int = 1 << 15) -> None:
        if sets < 1:
            raise ValueError("sets must be >= 1")
        self.sets = sets
        slots = sets * WAYS
        self._memory = mmap.mmap(-1, 8 + slots * 24)  # anonymous, MAP_SHARED: kept across fork
        header = memoryview(self._memory)[:8].cast("q")
        header[0] = hash(_SEED_CHECK)
        self._seed = header
        self.hashes = memoryview(self._memory)[8 : 8 + slots * 8].cast("Q")
        """Per slot the key's hash (0: empty)."""
        self.values = memoryview(self._memory)[8 + slots * 8 :].cast("d")
        """Per slot two floats: tokens, time of the last refill."""
        context = multiprocessing.get_context("fork")
        self.locks: list[Lock] = [context.Lock() for _ in range(LOCKS)]

    def attach(self) -> "BucketTable":
        """Check, in a worker, that it hashes keys as the table's maker did (it was forked)."""
        if self._seed[0] != hash(_SEED_CHECK):
            raise RuntimeError("a shared bucket table is only shared with forked processes")
        return self


class SharedTokenBuckets:
    """`TokenBuckets`' interface over a `BucketTable`: `rate` tokens/s per key, at most `burst`.

    `namespace` keeps the keys of different limits (per IP, per credential)
    apart in the one table.
    """

    __slots__ = ("burst", "clock", "namespace", "rate", "table")

    def __init__(
        self,
        table: BucketTable,
        namespace: str,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not rate > 0 or burst < 1:
            raise ValueError("rate must be > 0, burst >= 1")
        self.table = table
        self.namespace = namespace + "\0"
        self.rate = rate
        self.burst = burst
        self.clock = clock

    def take(self, key: str, cost: int = 1) -> float:
        """0.0 if `cost` tokens were taken, else the seconds until they will be there."""
        if not 1 <= cost <= self.burst:
            raise ValueError(f"cost {cost} must be between 1 and the burst {self.burst}")
        if math.isinf(self.rate):
            return 0.0
        table = self.table
        wanted = (hash(self.namespace + key) & 0xFFFF_FFFF_FFFF_FFFF) or 1
        first = (wanted % table.sets) * WAYS
        hashes, values = table.hashes, table.values
        with table.locks[(first // WAYS) % LOCKS]:
            now = self.clock()
            slot = -1
            victim, oldest = first, math.inf
            for candidate in range(first, first + WAYS):
                held = hashes[candidate]
                if held == wanted:
                    slot = candidate
                    break
                stamp = values[2 * candidate + 1] if held else -math.inf
                if stamp < oldest:
                    victim, oldest = candidate, stamp
            if slot < 0:
                slot = victim
                hashes[slot] = wanted
                tokens = float(self.burst)
            else:
                elapsed = max(0.0, now - values[2 * slot + 1])
                tokens = min(float(self.burst), values[2 * slot] + elapsed * self.rate)
            if tokens >= cost:
                values[2 * slot], values[2 * slot + 1] = tokens - cost, now
                return 0.0
            values[2 * slot], values[2 * slot + 1] = tokens, now
            return (cost - tokens) / self.rate
