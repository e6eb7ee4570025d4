"""Access lists, the per-IP connection cap and the response cache: pure, with fake clocks."""

import logging
import os
from pathlib import Path

import pytest

from exchange.marketdata.access import AccessLists
from exchange.marketdata.cache import ResponseCache
from exchange.web.concurrency import ConnectionLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


# --- access lists ---------------------------------------------------------------------------


def test_addresses_and_cidr_v4_v6_and_comments(tmp_path: Path) -> None:
    block = tmp_path / "block.txt"
    block.write_text(
        "# abusers\n"
        "\n"
        "203.0.113.7   # one address\n"
        "198.51.100.0/24\n"
        "2001:db8::1\n"
        "2001:db8:bad::/48\n"
    )
    lists = AccessLists(block, None)
    assert not lists.allowed("203.0.113.7")
    assert lists.allowed("203.0.113.8")
    assert not lists.allowed("198.51.100.0")
    assert not lists.allowed("198.51.100.255")
    assert lists.allowed("198.51.101.1")
    assert not lists.allowed("2001:db8::1")
    assert lists.allowed("2001:db8::2")
    assert not lists.allowed("2001:db8:bad:1::5")
    assert lists.allowed("2001:db8:bae::5")
    assert not lists.allowed("::ffff:203.0.113.7")  # IPv4-mapped, from a dual-stack socket
    assert lists.allowed("unknown")  # unparsable: cannot match, so allowed
    assert not lists.exempt("unknown")


def test_malformed_lines_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    block = tmp_path / "block.txt"
    block.write_text("not-an-ip\n10.0.0.1\n10.0.0.0/33\n300.1.1.1\n10.1.0.0/16\n")
    with caplog.at_level(logging.WARNING, logger="exchange.marketdata.access"):
        lists = AccessLists(block, None)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    text = caplog.text
    assert "not-an-ip" in text and "10.0.0.0/33" in text and "300.1.1.1" in text
    assert not lists.allowed("10.0.0.1")
    assert not lists.allowed("10.1.2.3")
    assert lists.allowed("10.2.0.1")


def test_allowlist_wins_and_is_exempt(tmp_path: Path) -> None:
    block = tmp_path / "block.txt"
    allow = tmp_path / "allow.txt"
    block.write_text("10.0.0.0/8\n")
    allow.write_text("10.1.2.3\n2001:db8::/32\n")
    lists = AccessLists(block, allow)
    assert lists.allowed("10.1.2.3")
    assert lists.exempt("10.1.2.3")
    assert not lists.allowed("10.1.2.4")
    assert not lists.exempt("10.1.2.4")
    assert lists.exempt("2001:db8::42")
    assert lists.allowed("192.0.2.1")
    assert not lists.exempt("192.0.2.1")


def test_no_files_and_missing_files_are_empty(tmp_path: Path) -> None:
    for lists in (
        AccessLists(None, None),
        AccessLists(tmp_path / "nope.txt", tmp_path / "nope2.txt"),
    ):
        assert lists.allowed("192.0.2.1")
        assert not lists.exempt("192.0.2.1")


def test_reload_after_check_every_and_not_before(tmp_path: Path) -> None:
    clock = FakeClock()
    block = tmp_path / "block.txt"
    write(block, "192.0.2.1\n", 1_000_000_000)
    lists = AccessLists(block, None, check_every=5.0, clock=clock)
    assert not lists.allowed("192.0.2.1")
    assert lists.allowed("192.0.2.2")

    write(block, "192.0.2.2\n", 2_000_000_000)  # same size: only the mtime tells
    clock.now += 4.9
    assert not lists.allowed("192.0.2.1")  # not checked yet
    assert lists.allowed("192.0.2.2")

    clock.now += 0.1
    assert lists.allowed("192.0.2.1")
    assert not lists.allowed("192.0.2.2")


def test_same_signature_is_not_reread(tmp_path: Path) -> None:
    clock = FakeClock()
    block = tmp_path / "block.txt"
    write(block, "192.0.2.1\n", 1_000_000_000)
    lists = AccessLists(block, None, check_every=1.0, clock=clock)
    write(block, "192.0.2.2\n", 1_000_000_000)  # same mtime and size: looks unchanged
    clock.now += 10
    assert not lists.allowed("192.0.2.1")
    assert lists.allowed("192.0.2.2")


def test_file_created_later_and_deleted(tmp_path: Path) -> None:
    clock = FakeClock()
    block = tmp_path / "block.txt"
    allow = tmp_path / "allow.txt"
    lists = AccessLists(block, allow, check_every=1.0, clock=clock)
    assert lists.allowed("192.0.2.1")

    write(block, "192.0.2.0/24\n", 1_000_000_000)
    write(allow, "192.0.2.9\n", 1_000_000_000)
    clock.now += 1
    assert not lists.allowed("192.0.2.1")
    assert lists.allowed("192.0.2.9") and lists.exempt("192.0.2.9")

    block.unlink()
    allow.unlink()
    clock.now += 1
    assert lists.allowed("192.0.2.1")
    assert not lists.exempt("192.0.2.9")


# --- connection limiter -----------------------------------------------------------------------


def test_connection_cap_and_release() -> None:
    limiter = ConnectionLimiter(2)
    assert limiter.acquire("a")
    assert limiter.acquire("a")
    assert not limiter.acquire("a")
    assert limiter.count("a") == 2
    assert limiter.acquire("b")  # others are unaffected
    limiter.release("a")
    assert limiter.count("a") == 1
    assert limiter.acquire("a")
    assert not limiter.acquire("a")


def test_release_never_goes_negative() -> None:
    limiter = ConnectionLimiter(1)
    limiter.release("a")
    assert limiter.count("a") == 0
    assert len(limiter) == 0
    assert limiter.acquire("a")
    limiter.release("a")
    limiter.release("a")
    assert limiter.count("a") == 0
    assert limiter.acquire("a")
    assert not limiter.acquire("a")


def test_memory_bounded_by_open_connections() -> None:
    limiter = ConnectionLimiter(3)
    ips = [f"10.0.{i // 256}.{i % 256}" for i in range(1000)]
    for ip in ips:
        assert limiter.acquire(ip)
        assert limiter.acquire(ip)
    assert len(limiter) == 1000
    for ip in ips:
        limiter.release(ip)
        limiter.release(ip)
    assert len(limiter) == 0


def test_connection_limiter_rejects_a_zero_cap() -> None:
    with pytest.raises(ValueError):
        ConnectionLimiter(0)


# --- response cache ---------------------------------------------------------------------------


def test_cache_ttl_and_counters() -> None:
    clock = FakeClock()
    cache = ResponseCache(1.0, clock=clock)
    calls: list[int] = []

    def compute() -> bytes:
        calls.append(1)
        return b"body-%d" % len(calls)

    first = cache.get("k", compute)
    assert first.body == b"body-1"
    assert first.created == clock.now
    assert (cache.hits, cache.misses) == (0, 1)
    clock.now += 0.999
    assert cache.get("k", compute) is first
    assert (cache.hits, cache.misses) == (1, 1)
    clock.now += 0.001  # exactly ttl old: expired
    second = cache.get("k", compute)
    assert second.body == b"body-2"
    assert (cache.hits, cache.misses) == (1, 2)
    assert len(calls) == 2


def test_compute_called_once_per_ttl_window() -> None:
    clock = FakeClock()
    cache = ResponseCache(1.0, clock=clock)
    calls = 0

    def compute() -> bytes:
        nonlocal calls
        calls += 1
        return b"x"

    for window in range(3):
        for i in range(1000):
            clock.now = 1000.0 + window + i / 1000 * 0.999
            cache.get(("l2", "FOOLAD", 5), compute)
        assert calls == window + 1
    assert cache.misses == 3
    assert cache.hits == 2997


def test_cache_bounded_oldest_inserted_evicted_first() -> None:
    cache = ResponseCache(60.0, max_entries=3, clock=FakeClock())
    for key in "abc":
        cache.get(key, key.encode)
    cache.get("a", lambda: b"never")  # a hit does not refresh insertion order
    cache.get("d", lambda: b"d")
    assert len(cache) == 3
    misses = cache.misses
    cache.get("a", lambda: b"a again")  # "a" was the oldest inserted: evicted
    assert cache.misses == misses + 1
    hits = cache.hits
    cache.get("c", lambda: b"never")
    cache.get("d", lambda: b"never")
    assert cache.hits == hits + 2
    assert len(cache) == 3


def test_etag_stable_for_equal_bodies_and_different_otherwise() -> None:
    cache = ResponseCache(60.0, clock=FakeClock())
    one = cache.get("one", lambda: b'{"bids":[]}')
    two = cache.get("two", lambda: b'{"bids":[]}')
    three = cache.get("three", lambda: b'{"bids":[1]}')
    assert one.etag == two.etag
    assert one.etag != three.etag
    assert one.etag.startswith('"') and one.etag.endswith('"')
    assert len(one.etag) == 18
    int(one.etag.strip('"'), 16)


def test_invalidate_and_clear() -> None:
    cache = ResponseCache(60.0, clock=FakeClock())
    cache.get("a", lambda: b"a1")
    cache.get("b", lambda: b"b1")
    cache.invalidate("a")
    cache.invalidate("missing")  # no error
    assert cache.get("a", lambda: b"a2").body == b"a2"
    assert cache.get("b", lambda: b"never").body == b"b1"
    cache.clear()
    assert len(cache) == 0
    assert cache.get("b", lambda: b"b2").body == b"b2"
