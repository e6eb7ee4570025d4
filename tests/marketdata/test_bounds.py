"""Security review M7: market data stays bounded with a deep book (real engine, real server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from exchange.core import NewOrder, OrderType, Side, TimeInForce
from exchange.engine.client import EngineClient
from exchange.engine.curve import ClientKeys
from exchange.marketdata.app import MarketData, MarketDataConfig, _throttle
from exchange.marketdata.cache import ResponseCache
from exchange.marketdata.render import L3_MAX_ORDERS, SNAPSHOT_DEPTH
from exchange.web.ratelimit import TokenBuckets
from tests.engine.test_server import setup_accounts
from tests.web.servers import Servers, running

LEVELS = 60
PER_LEVEL = 25
"""1,500 resting bids over 60 prices: more orders than L3 serves, more levels than a snapshot."""
TOP = 5_259
SENTINEL_ASK = 5_600


def limit(coid: str, side: Side, price: int, account: int = 1) -> NewOrder:
    return NewOrder(
        account=account,
        client_order_id=coid,
        symbol="FOOLAD",
        side=side,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=price,
        quantity=1,
    )


async def deep_book(endpoint: str, keys: ClientKeys) -> None:
    client = EngineClient(endpoint, keys=keys, timeout=1.0, deadline=60)
    try:
        await setup_accounts(client)
        for level in range(LEVELS):
            await asyncio.gather(
                *(client.submit(limit(f"b{level}-{n}", Side.BUY, TOP - level))
                  for n in range(PER_LEVEL))
            )  # fmt: skip
        await client.submit(limit("sentinel", Side.SELL, SENTINEL_ASK, account=2))
    finally:
        await client.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with running(tmp_path_factory.mktemp("m7")) as s:
        asyncio.run(deep_book(s.engine.endpoint, s.engine.keys()))
        for _ in range(300):  # until market data has seen the whole book (the sentinel is last)
            ask = httpx.get(f"{s.marketdata}/v1/marketdata/FOOLAD/l1", timeout=5).json()["ask"]
            if ask is not None and ask["price"] == SENTINEL_ASK:
                break
            asyncio.run(asyncio.sleep(0.05))
        else:
            raise AssertionError("market data never showed the deep book")
        yield s


def test_m7_l3_is_capped_per_side(servers: Servers) -> None:
    body = httpx.get(f"{servers.marketdata}/v1/marketdata/FOOLAD/l3?depth=50", timeout=10).json()
    assert len(body["bids"]) == L3_MAX_ORDERS < 50 * PER_LEVEL
    assert body["truncated"] is True
    assert body["bids"][0]["price"] == TOP  # best first: what is cut is the far end
    shallow = httpx.get(f"{servers.marketdata}/v1/marketdata/FOOLAD/l3?depth=5", timeout=10)
    assert len(shallow.json()["bids"]) == 5 * PER_LEVEL
    assert shallow.json()["truncated"] is False


def ws_url(servers: Servers) -> str:
    return servers.marketdata.replace("http://", "ws://") + "/v1/marketdata/stream"


def test_m7_websocket_l2_snapshot_depth_is_capped(servers: Servers) -> None:
    with connect(ws_url(servers)) as ws:
        ws.send(json.dumps({"op": "subscribe", "channel": "l2", "symbols": ["FOOLAD"]}))
        snapshot = json.loads(ws.recv(timeout=10))
    assert snapshot["type"] == "snapshot"
    assert len(snapshot["data"]["bids"]) == SNAPSHOT_DEPTH < LEVELS


def test_m7_websocket_ops_are_rate_limited_per_connection(servers: Servers) -> None:
    ops = 600  # twice the per-connection burst (300 symbols), sent at once
    with connect(ws_url(servers)) as ws:
        for n in range(ops):
            op = "subscribe" if n % 2 == 0 else "unsubscribe"
            ws.send(json.dumps({"op": op, "channel": "l2", "symbols": ["FOOLAD"]}))
        limited = snapshots = 0
        while (
            limited < 100
        ):  # without a limit no refusal ever comes: recv times out, the test fails
            message = json.loads(ws.recv(timeout=30))
            if message["type"] == "error":
                assert "rate limited" in message["message"]
                limited += 1
            else:
                snapshots += 1
    assert snapshots <= 300


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_m7_websocket_ops_are_rate_limited_per_address() -> None:
    md = MarketData(MarketDataConfig("tcp://127.0.0.1:1", Path("/nonexistent")))
    clock = FakeClock()
    md.ws_ops = TokenBuckets(300.0, 900, clock=clock)
    connections = [TokenBuckets(100.0, 300, max_keys=1, clock=clock) for _ in range(4)]
    # Four connections each within their own budget: the address's budget runs out first.
    answers = [_throttle(md, own, "2001:db8::/64", 100) for _ in range(3) for own in connections]
    assert answers[:9] == [None] * 9
    assert all(a is not None and "rate limited" in a for a in answers[9:])
    clock.now += 1.0  # a second later the address may do 300 more
    assert _throttle(md, connections[0], "2001:db8::/64", 100) is None


def test_m7_cache_bounded_by_bytes_and_one_entry_per_view() -> None:
    cache = ResponseCache(60.0, max_bytes=10_000)
    for seq in range(1_000):  # a book changing 1,000 times leaves one entry for its view
        entry = cache.get(("l3", "FOOLAD", 50), lambda s=seq: b"%d" % s * 10, seq)
        assert entry.body.startswith(b"%d" % seq)
    assert len(cache) == 1
    for n in range(100):  # 100 views of 1,000 bytes each: only 10 fit in 10,000 bytes
        cache.get(("l2", f"S{n}", 50), lambda: b"x" * 1_000, 0)
    assert cache.size <= 10_000
    assert len(cache) == 10
    huge = cache.get(("l3", "BIG", 50), lambda: b"y" * 20_000, 0)  # served, never kept
    assert len(huge.body) == 20_000
    assert cache.size <= 10_000
    assert cache.get(("l2", "S99", 50), lambda: b"other", 1).body == b"other"  # new version
