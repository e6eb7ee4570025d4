"""History from the reporter's database: GET /v1/execution and /v1/orders, windows, cursors."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from exchange.gateway import create_app
from exchange.gateway.history import MAX_TIME_MS
from exchange.reporter.service import Reporter
from exchange.reporter.store import ReportStore
from tests import migrated
from tests.engine.test_server import EngineProcess
from tests.gateway.conftest import ADMIN, make_config, open_account, token

REF = 5_430


def test_executions_and_order_history_paged_and_private(
    tmp_path: Path, engine: EngineProcess
) -> None:
    reports = f"sqlite:///{tmp_path / 'reports.db'}"
    config = dataclasses.replace(make_config(tmp_path, engine), report_db_url=reports)
    with TestClient(create_app(config)) as client:
        admin = token(client, ADMIN["client_id"], ADMIN["client_secret"])
        buyer = open_account(client, admin, cash=10**10)
        seller = open_account(client, admin, shares=10_000)
        unavailable = client.get("/v1/execution", headers=buyer.headers)
        assert unavailable.status_code == 503  # no reporter has written yet
        started_ms = int(time.time() * 1000)

        def post(trader: Any, **body: Any) -> dict[str, Any]:
            order = {"symbol": "FOOLAD", "side": "buy", "type": "limit", **body}
            response = client.post("/v1/order", json=order, headers=trader.headers)
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

        ask = post(seller, side="sell", price=REF, quantity=500, timeInForce="gtc")
        bought = [post(buyer, type="market", quantity=100) for _ in range(5)]
        canceled = post(buyer, price=REF - 100, quantity=10, timeInForce="gtc")
        client.delete(f"/v1/order/{canceled['id']}", headers=buyer.headers)

        store = ReportStore(migrated.reports_db(reports))
        Reporter(engine.data_dir / "journal", store).run(lambda: True, exit_when_idle=True)
        store.close()

        everything = client.get("/v1/execution", headers=buyer.headers).json()
        assert [e["orderId"] for e in everything["executions"]] == [b["id"] for b in bought]
        assert everything["executions"][0] == {
            "id": bought[0]["executions"][0]["id"], "orderId": bought[0]["id"], "symbol": "FOOLAD",
            "side": "buy", "price": REF, "quantity": 100,
            "time": bought[0]["executions"][0]["time"],
        }  # fmt: skip
        assert everything["nextCursor"] is None
        # Paging: two at a time, nothing repeated, nothing skipped.
        pages, cursor = [], ""
        while True:
            page = client.get(f"/v1/execution?limit=2{cursor}", headers=buyer.headers).json()
            pages.extend(e["id"] for e in page["executions"])
            if page["nextCursor"] is None:
                break
            cursor = f"&cursor={page['nextCursor']}"
        assert pages == [e["id"] for e in everything["executions"]]
        one = client.get(f"/v1/execution?orderId={bought[2]['id']}", headers=buyer.headers).json()
        assert [e["orderId"] for e in one["executions"]] == [bought[2]["id"]]
        later = client.get(f"/v1/execution?startTime={int(time.time() * 1000) + 60_000}",
                           headers=buyer.headers).json()  # fmt: skip
        assert later["executions"] == []
        window = f"startTime={started_ms - 1}&endTime={int(time.time() * 1000)}"
        assert (
            len(client.get(f"/v1/execution?{window}", headers=buyer.headers).json()["executions"])
            == 5
        )
        # The seller sees only its own side of the same trades.
        sold = client.get("/v1/execution", headers=seller.headers).json()["executions"]
        assert {e["orderId"] for e in sold} == {ask["id"]} and {e["side"] for e in sold} == {"sell"}

        filled = client.get("/v1/orders?status=filled", headers=buyer.headers).json()["orders"]
        assert [o["id"] for o in filled] == [b["id"] for b in bought]
        assert all(len(o["executions"]) == 1 for o in filled)
        gone = client.get("/v1/orders?status=canceled", headers=buyer.headers).json()["orders"]
        assert [o["id"] for o in gone] == [canceled["id"]]
        history = client.get(f"/v1/orders?status=all&{window}", headers=buyer.headers).json()
        assert len(history["orders"]) == 6
        assert client.get("/v1/orders?status=weird", headers=buyer.headers).status_code == 422
        assert client.get("/v1/execution?cursor=x", headers=buyer.headers).status_code == 422
        assert client.get("/v1/execution?orderId=0", headers=buyer.headers).status_code == 422
        # The latest time that still fits the database in nanoseconds; one past it is refused.
        last = client.get(f"/v1/orders?status=all&endTime={MAX_TIME_MS}", headers=buyer.headers)
        assert last.status_code == 200 and len(last.json()["orders"]) == 6
        past = client.get(f"/v1/orders?endTime={MAX_TIME_MS + 1}", headers=buyer.headers)
        assert past.status_code == 422  # it was a 500: an integer overflow in the database
        assert (
            client.get(f"/v1/execution?startTime={2**62}", headers=buyer.headers).status_code == 422
        )
