"""A short-lived cache of response bodies, each with a strong ETag.

Why: the whole world asks for the same few books; rendering one per request
would let a crowd of readers cost as much as a crowd of writers. A body is
built once per key and `ttl` window and served from memory after that; the
ETag lets a client revalidate with If-None-Match and get a 304.

`compute` is synchronous and asyncio runs one thing at a time, so concurrent
requests for a missing key cannot build it twice (single flight for free).

An entry may carry a `version` (market data passes the symbol's `seq`): a
request for another version rebuilds the body and replaces the entry, so a
book that changes leaves one entry per view, not one per change (security
review M7). Memory is bounded twice: at most `max_entries` entries and at
most `max_bytes` of bodies, the oldest inserted evicted first; a body larger
than `max_bytes` is served but not kept. Pure: no I/O, the clock is injected.
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
    version: Hashable = None
    """What it was built from (e.g. the book's seq); another version is a miss."""


def etag_of(body: bytes) -> str:
    """A strong ETag for `body`: equal bodies, equal tags."""
    return '"' + hashlib.blake2b(body).hexdigest()[:16] + '"'


class ResponseCache:
    """Bodies by key, each served for `ttl` seconds after it was built."""

    __slots__ = ("_entries", "clock", "hits", "max_bytes", "max_entries", "misses", "size", "ttl")

    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or max_entries < 1 or max_bytes < 1:
            raise ValueError("ttl must be >= 0, max_entries and max_bytes >= 1")
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self.size = 0
        """Bytes of bodies held (at most `max_bytes`)."""
        self._entries: OrderedDict[Hashable, CachedBody] = OrderedDict()
        """key -> entry, oldest inserted first"""

    def get(
        self, key: Hashable, compute: Callable[[], bytes], version: Hashable = None
    ) -> CachedBody:
        """The entry for `key` if of `version` and younger than `ttl`, else `compute()` once.

        A rebuilt entry replaces the one for `key`, whatever its version.
        """
        now = self.clock()
        entries = self._entries
        entry = entries.get(key)
        if entry is not None and entry.version == version and now - entry.created < self.ttl:
            self.hits += 1
            return entry
        self.misses += 1
        body = compute()
        entry = CachedBody(body, etag_of(body), now, version)
        self.invalidate(key)
        if len(body) > self.max_bytes:
            return entry  # served, never kept
        while entries and (
            len(entries) >= self.max_entries or self.size + len(body) > self.max_bytes
        ):
            _, oldest = entries.popitem(last=False)
            self.size -= len(oldest.body)
        entries[key] = entry
        self.size += len(body)
        return entry

    def invalidate(self, key: Hashable) -> None:
        """Forget `key`: the next get builds it again."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry.body)

    def clear(self) -> None:
        """Forget everything (the counters are kept)."""
        self._entries.clear()
        self.size = 0

    def __len__(self) -> int:
        return len(self._entries)
