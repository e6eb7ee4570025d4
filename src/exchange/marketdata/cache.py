"""A short-lived cache of response bodies, each with a strong ETag.

Why: the whole world asks for the same few books; rendering one per request
would let a crowd of readers cost as much as a crowd of writers. A body is
built once per key and `ttl` window and served from memory after that; the
ETag lets a client revalidate with If-None-Match and get a 304.

`compute` is synchronous and asyncio runs one thing at a time, so concurrent
requests for a missing key cannot build it twice (single flight for free).
Memory is bounded: at most `max_entries`, the oldest inserted evicted first.
Pure: no I/O, the clock is injected.
"""

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CachedBody:
    body: bytes
    etag: str
    """A strong ETag: the first 16 hex digits of the body's BLAKE2b, in quotes."""
    created: float
    """When it was built, by the cache's clock."""


def etag_of(body: bytes) -> str:
    """A strong ETag for `body`: equal bodies, equal tags."""
    return '"' + hashlib.blake2b(body).hexdigest()[:16] + '"'


class ResponseCache:
    """Bodies by key, each served for `ttl` seconds after it was built."""

    __slots__ = ("_entries", "clock", "hits", "max_entries", "misses", "ttl")

    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or max_entries < 1:
            raise ValueError("ttl must be >= 0 and max_entries >= 1")
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, CachedBody] = OrderedDict()
        """key -> entry, oldest inserted first"""

    def get(self, key: Hashable, compute: Callable[[], bytes]) -> CachedBody:
        """The entry for `key` if younger than `ttl`, else `compute()` once, stored and returned."""
        now = self.clock()
        entries = self._entries
        entry = entries.get(key)
        if entry is not None and now - entry.created < self.ttl:
            self.hits += 1
            return entry
        self.misses += 1
        body = compute()
        entry = CachedBody(body, etag_of(body), now)
        if key in entries:
            del entries[key]  # re-inserted at the end: it is the newest now
        elif len(entries) >= self.max_entries:
            entries.popitem(last=False)
        entries[key] = entry
        return entry

    def invalidate(self, key: Hashable) -> None:
        """Forget `key`: the next get builds it again."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything (the counters are kept)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
