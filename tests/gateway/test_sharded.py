"""A gateway of one account shard, on a machine without the engine's journal directory.

It follows only its shard's slices of the feed, fills what it missed (here:
everything before it started) from the engine's journal service over the
network, serves its own accounts exactly, and sends the others to the
gateways of their shard (421).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from starlette.testclient import TestClient

from exchange.core import Side
from exchange.engine.client import EngineClient
from exchange.gateway import create_app
from tests.engine.test_server import EngineProcess, order
from tests.gateway.conftest import ADMIN, make_config, open_account, token

SHARDS = 2


def test_a_shard_gateway_serves_its_accounts_from_a_feed_filled_over_the_network(
    tmp_path: Path,
) -> None:
    engine = EngineProcess(tmp_path / "data", engine__account_shards=SHARDS)
    engine.start()
    try:
        # Two accounts opened and trading through a whole gateway (the journal grows).
        (tmp_path / "whole").mkdir()
        whole = make_config(tmp_path / "whole", engine)
        with TestClient(create_app(whole)) as client:
            admin = token(client, ADMIN["client_id"], ADMIN["client_secret"])
            first = open_account(client, admin, cash=10**10, shares=10_000)
            second = open_account(client, admin, cash=10**10, shares=10_000)
            placed = client.post(
                "/v1/order",
                json={"symbol": "FOOLAD", "side": "sell", "type": "limit", "price": 5_500,
                      "quantity": 100, "clientOrderId": "before-1"},
                headers=first.headers,
            )  # fmt: skip
            assert placed.status_code in (200, 201), placed.text

        # More while no gateway runs: the shard gateway must find it in the journal.
        async def trade_directly() -> None:
            client = EngineClient(engine.endpoint, keys=engine.keys("trading"), timeout=0.3)
            try:
                for i in range(5):
                    account = (first, second)[i % 2].account_id
                    reply = await client.submit(order(account, f"direct-{i}", Side.SELL, 5_600))
                    assert reply.events
            finally:
                await client.close()

        asyncio.run(trade_directly())
        mine, other = (first, second) if first.account_id % SHARDS == 1 else (second, first)
        (tmp_path / "shard").mkdir()
        shard_config = dataclasses.replace(
            make_config(tmp_path / "shard", engine),
            db_url=whole.db_url,
            signing_key=whole.signing_key,
            pepper_file=whole.pepper_file,
            journal=tmp_path / "no-journal-here",
            keys_dir=engine.keys_dir,  # a copy of the keys, as on another machine
            journal_service=engine.config.engine.journal_service,
            account_shard=1,
            account_shards=SHARDS,
        )
        with TestClient(create_app(shard_config)) as shard:
            mine_headers = token(shard, mine.client_id, mine.client_secret)
            other_headers = token(shard, other.client_id, other.client_secret)
            listed = shard.get("/v1/orders?status=all", headers=mine_headers)
            assert listed.status_code == 200, listed.text
            ids = {o["clientOrderId"] for o in listed.json()["orders"]}
            expected = {f"direct-{i}" for i in range(5) if (first, second)[i % 2] is mine}
            if mine is first:
                expected.add("before-1")
            assert ids == expected

            refused = shard.get("/v1/orders", headers=other_headers)
            assert refused.status_code == 421, refused.text
            assert refused.json()["error"]["code"] == "WRONG_GATEWAY"
            refused = shard.post(
                "/v1/order",
                json={"symbol": "FOOLAD", "side": "buy", "type": "limit", "price": 5_500,
                      "quantity": 100},
                headers=other_headers,
            )  # fmt: skip
            assert refused.status_code == 421, refused.text

            # Its own account trades, and reads its write back from the sliced feed.
            bought = shard.post(
                "/v1/order",
                json={"symbol": "FOOLAD", "side": "buy", "type": "limit", "price": 5_600,
                      "quantity": 100, "clientOrderId": "after"},
                headers=mine_headers,
            )  # fmt: skip
            assert bought.status_code in (200, 201), bought.text
            order_id = bought.json()["id"]
            got = shard.get(f"/v1/order/{order_id}", headers=mine_headers)
            assert got.status_code == 200 and got.json()["clientOrderId"] == "after"
            view = shard.app.state.gateway.follower.view  # type: ignore[attr-defined]
            assert {o.account for o in view.orders.values()} == {mine.account_id}
    finally:
        engine.kill()
