"""The market-data server against a real engine: REST, caching, WebSocket updates, recovery."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

from starlette.testclient import TestClient

from exchange.core import NewOrder, OrderType, Side, TimeInForce
from exchange.engine import rebuild
from exchange.engine.client import EngineClient
from exchange.marketdata.app import MarketDataConfig, create_app
from tests.engine.test_server import EngineProcess, setup_accounts
from tests.engine.workload import random_batches, setup_batch
from tests.marketdata.test_books import assert_same_books

REF = 5_430


def config(engine: EngineProcess, **changes: Any) -> MarketDataConfig:
    return MarketDataConfig(engine.publish, engine.data_dir / "journal", **changes)


def submit(engine: EngineProcess, *commands: Any) -> int:
    """Send commands one by one; the last one's sequence number."""

    async def send() -> int:
        client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.3, deadline=30)
        seq = 0
        try:
            for command in commands:
                seq = (await client.submit(command)).seq
        finally:
            await client.close()
        return seq

    return asyncio.run(send())


def limit(account: int, coid: str, side: Side, price: int, quantity: int) -> NewOrder:
    return NewOrder(
        account=account,
        client_order_id=coid,
        symbol="FOOLAD",
        side=side,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=price,
        quantity=quantity,
    )


def market_buy(account: int, coid: str, quantity: int) -> NewOrder:
    return NewOrder(
        account=account,
        client_order_id=coid,
        symbol="FOOLAD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.IOC,
        price=0,
        quantity=quantity,
    )


def wait_for(client: TestClient, path: str, check: Any) -> Any:
    for _ in range(200):
        body = client.get(path).json()
        if check(body):
            return body
        time.sleep(0.02)
    raise AssertionError(f"{path} never satisfied the check: {body}")


def test_rest_views_caching_and_validation(engine: EngineProcess) -> None:
    asyncio.run(_setup(engine))
    submit(
        engine,
        limit(2, "a1", Side.SELL, REF + 10, 300),
        limit(2, "a2", Side.SELL, REF + 10, 200),
        limit(2, "a3", Side.SELL, REF + 20, 100),
        limit(1, "b1", Side.BUY, REF - 10, 400),
        market_buy(1, "m1", 50),
    )
    with TestClient(create_app(config(engine))) as client:
        l2 = wait_for(
            client,
            "/v1/marketdata/FOOLAD/l2",
            lambda b: b["asks"] and b["asks"][0]["quantity"] == 450,
        )
        assert l2["bids"] == [{"price": REF - 10, "quantity": 400, "orders": 1}]
        assert l2["asks"] == [
            {"price": REF + 10, "quantity": 450, "orders": 2},
            {"price": REF + 20, "quantity": 100, "orders": 1},
        ]
        assert client.get("/v1/marketdata/order-book/L2?symbol=FOOLAD&depth=1").json()["asks"] == [
            {"price": REF + 10, "quantity": 450, "orders": 2}
        ]
        l1 = client.get("/v1/marketdata/FOOLAD/l1").json()
        assert l1["bid"] == {"price": REF - 10, "quantity": 400, "orders": 1}
        assert l1["ask"]["price"] == REF + 10 and l1["last"] == REF + 10
        l3 = client.get("/v1/marketdata/FOOLAD/l3").json()
        assert [(o["price"], o["quantity"]) for o in l3["asks"]] == [
            (REF + 10, 250), (REF + 10, 200), (REF + 20, 100),
        ]  # fmt: skip
        assert "account" not in json.dumps(l3).lower()
        trades = client.get("/v1/marketdata/FOOLAD/trades").json()["trades"]
        assert [(t["price"], t["quantity"], t["side"]) for t in trades] == [(REF + 10, 50, "buy")]
        summary = client.get("/v1/marketdata/summary").json()
        row = next(s for s in summary["symbols"] if s["symbol"] == "FOOLAD")
        assert (row["last"], row["volume"], row["change"]) == (REF + 10, 50, 10)
        assert (row["bid"], row["ask"], row["high"], row["low"]) == (
            REF - 10,
            REF + 10,
            REF + 10,
            REF + 10,
        )
        assert len(summary["symbols"]) == 100

        # Cacheable: an ETag, and 304 when it still holds; one computation per change.
        first = client.get("/v1/marketdata/FOOLAD/l2?depth=5")
        assert first.headers["cache-control"].startswith("public")
        etag = first.headers["etag"]
        assert (
            client.get(
                "/v1/marketdata/FOOLAD/l2?depth=5", headers={"If-None-Match": etag}
            ).status_code
            == 304
        )
        cache = client.app.state.marketdata.cache  # type: ignore[attr-defined]
        misses = cache.misses
        for _ in range(50):
            client.get("/v1/marketdata/FOOLAD/l2?depth=5")
        assert cache.misses == misses

        for bad, status in [
            ("/v1/marketdata/FOOLAD/l2?depth=7", 422),
            ("/v1/marketdata/FOOLAD/l2?depth=abc", 422),
            ("/v1/marketdata/FOOLAD/l2?foo=1", 422),
            ("/v1/marketdata/FOOLAD/l2?depth=5&depth=10", 422),
            ("/v1/marketdata/NOPE/l2", 404),
            ("/v1/marketdata/FOOLAD/l9", 404),
            ("/v1/marketdata/order-book/L2", 422),
            ("/v1/marketdata/summary?x=1", 422),
            ("/v1/marketdata/FOOLAD/trades?limit=1000", 422),
        ]:
            response = client.get(bad)
            assert response.status_code == status, bad
            assert set(response.json()["error"]) == {"code", "message"}
        page = client.get("/")
        assert page.status_code == 200 and "market.js" in page.text
        assert client.get("/symbol/FOOLAD").status_code == 200
        assert client.get("/symbol/NOPE").status_code == 404


async def _setup(engine: EngineProcess) -> None:
    client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.3, deadline=30)
    try:
        await setup_accounts(client)
    finally:
        await client.close()


def test_websocket_snapshot_then_gap_free_updates(engine: EngineProcess) -> None:
    asyncio.run(_setup(engine))
    submit(engine, limit(2, "s1", Side.SELL, REF + 5, 100))
    with (
        TestClient(create_app(config(engine))) as client,
        client.websocket_connect("/v1/marketdata/stream") as ws,
    ):
        wait_for(client, "/v1/marketdata/FOOLAD/l1", lambda b: b["ask"] is not None)
        ws.send_text(json.dumps({"op": "subscribe", "channel": "l2", "symbols": ["FOOLAD"]}))
        ws.send_text(json.dumps({"op": "subscribe", "channel": "trades", "symbols": ["FOOLAD"]}))
        snapshot = json.loads(ws.receive_text())
        assert snapshot["type"] == "snapshot" and snapshot["channel"] == "l2"
        book = {("asks", lv["price"]): lv for lv in snapshot["data"]["asks"]}
        assert book == {("asks", REF + 5): {"price": REF + 5, "quantity": 100, "orders": 1}}
        last = {"l2": snapshot["seq"], "trades": json.loads(ws.receive_text())["seq"]}
        submit(
            engine,
            limit(2, "s2", Side.SELL, REF + 5, 50),
            limit(1, "b1", Side.BUY, REF - 5, 70),
            market_buy(1, "m1", 120),
        )
        trades = []
        while len(trades) < 2:
            message = json.loads(ws.receive_text())
            assert message["type"] == "update"
            assert message["prevSeq"] == last[message["channel"]]  # no gap
            last[message["channel"]] = message["seq"]
            if message["channel"] == "l2":
                for side in ("bids", "asks"):
                    for level in message["data"][side]:
                        if level["quantity"]:
                            book[(side, level["price"])] = level
                        else:
                            book.pop((side, level["price"]), None)
            else:
                trades.extend(message["data"])
        assert sum(t["quantity"] for t in trades) == 120
        # The book kept from updates equals the server's view.
        l2 = client.get("/v1/marketdata/FOOLAD/l2?depth=50").json()
        rest = {("bids", lv["price"]): lv for lv in l2["bids"]} | {
            ("asks", lv["price"]): lv for lv in l2["asks"]
        }
        assert book == rest
        ws.send_text("not json")
        assert json.loads(ws.receive_text())["type"] == "error"
        ws.send_text(json.dumps({"op": "subscribe", "channel": "l9", "symbols": ["FOOLAD"]}))
        assert json.loads(ws.receive_text())["type"] == "error"


def test_books_converge_with_dropped_feed_messages_recovered_from_the_journal(
    engine: EngineProcess,
) -> None:
    submit(engine, *setup_batch())
    with TestClient(create_app(config(engine))) as client:
        hub = client.app.state.marketdata.hub  # type: ignore[attr-defined]
        socket = hub.feed._socket
        received = socket.recv_multipart
        calls = 0

        async def lossy(*args: Any, **kwargs: Any) -> list[bytes]:
            nonlocal calls
            while True:
                frames: list[bytes] = await received(*args, **kwargs)
                calls += 1
                if calls % 4 == 0:  # drop one published batch in four
                    return frames

        socket.recv_multipart = lossy
        last = 0
        for batch in random_batches(21, 60):
            last = submit(engine, *batch)
        for _ in range(500):
            if hub.books.next_seq > last:
                break
            time.sleep(0.02)
        assert hub.feed.from_journal > 0  # batches were dropped and read from the journal
        engine.kill(signal.SIGTERM)
        recovered = rebuild(engine.data_dir)
        assert hub.books.next_seq == recovered.last_seq + 1
        assert_same_books(recovered.core, hub.books)
    with TestClient(create_app(config(engine))) as late:  # a late start converges too
        books = late.app.state.marketdata.books  # type: ignore[attr-defined]
        assert books.next_seq == recovered.last_seq + 1
        assert_same_books(recovered.core, books)
