"""Orders, cancels, balances and execution streams through the gateway, against a real engine."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jwt
from starlette.testclient import TestClient, WebSocketTestSession

from exchange.gateway import Limits, create_app
from tests.engine.test_server import EngineProcess
from tests.gateway.conftest import Trader, make_config, open_account, token

REF = 5_430  # FOOLAD's reference price; the band is +/- 5 %


def order(client: TestClient, trader: Trader, **fields: Any) -> dict[str, Any]:
    body = {"symbol": "FOOLAD", "side": "buy", "type": "limit", "quantity": 100, **fields}
    response = client.post("/v1/order", json=body, headers=trader.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def next_report(ws: WebSocketTestSession) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.receive_bytes())
    return message


def test_two_accounts_trade_and_both_streams_report_it(
    client: TestClient, admin: dict[str, str]
) -> None:
    buyer = open_account(client, admin, cash=10**9)
    seller = open_account(client, admin, shares=10_000)
    with (
        client.websocket_connect(f"/v1/stream?access_token={buyer.access_token}") as buyer_ws,
        client.websocket_connect("/v1/stream", headers=seller.headers) as seller_ws,
    ):
        assert next_report(buyer_ws)["type"] == "subscribed"
        hello = next_report(seller_ws)
        assert hello == {
            "type": "subscribed", "accountId": seller.account_id, "since": 0, "complete": True,
        }  # fmt: skip
        resting = order(client, seller, side="sell", price=REF, quantity=300, timeInForce="gtc")
        assert resting["status"] == "new" and resting["remainingQuantity"] == 300
        bought = order(client, buyer, type="market", quantity=100, clientOrderId="mkt-1")
        # A market order's response already carries its fill.
        assert bought["status"] == "filled" and bought["filledQuantity"] == 100
        assert bought["price"] is None and bought["clientOrderId"] == "mkt-1"
        (execution,) = bought["executions"]
        assert execution["price"] == REF and execution["quantity"] == 100
        assert set(bought) == {
            "id", "accountId", "clientOrderId", "symbol", "side", "type", "timeInForce", "price",
            "quantity", "filledQuantity", "remainingQuantity", "status", "rejectReason",
            "creationTime", "executions", "cancelReason",
        }  # fmt: skip
        assert abs(bought["creationTime"] - time.time() * 1000) < 60_000

        accepted, fill = next_report(buyer_ws), next_report(buyer_ws)
        assert (accepted["type"], fill["type"]) == ("accepted", "fill")
        assert fill["orderId"] == bought["id"] and fill["execution"]["id"] == execution["id"]
        assert accepted["seq"] < fill["seq"]
        seller_accepted, seller_fill = next_report(seller_ws), next_report(seller_ws)
        assert seller_accepted["type"] == "accepted" and seller_fill["type"] == "fill"
        assert seller_fill["status"] == "partially_filled"
        assert seller_fill["remainingQuantity"] == 200
        last_seen = seller_fill["seq"]

    # Reads: the order with its executions, open orders, balances.
    got = client.get(f"/v1/order/{resting['id']}", headers=seller.headers).json()
    assert got["filledQuantity"] == 100 and got["status"] == "partially_filled"
    assert len(got["executions"]) == 1
    open_orders = client.get("/v1/orders?status=open", headers=seller.headers).json()["orders"]
    assert [o["id"] for o in open_orders] == [resting["id"]]
    assert client.get("/v1/orders", headers=buyer.headers).json()["orders"] == []
    everything = client.get("/v1/orders?status=all", headers=buyer.headers).json()["orders"]
    assert [o["id"] for o in everything] == [bought["id"]]
    account = client.get("/v1/account", headers=buyer.headers).json()
    assert account["accountId"] == buyer.account_id and account["status"] == "open"
    assert account["cash"] == {"total": 10**9 - 100 * REF, "available": 10**9 - 100 * REF}
    assert account["positions"] == [{"symbol": "FOOLAD", "total": 100, "available": 100}]
    seller_account = client.get("/v1/account", headers=seller.headers).json()
    assert seller_account["positions"] == [{"symbol": "FOOLAD", "total": 9_900, "available": 9_700}]

    # Cancel; then the seller reconnects with the last seq it saw and gets what it missed.
    canceled = client.delete(f"/v1/order/{resting['id']}", headers=seller.headers)
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert canceled.json()["remainingQuantity"] == 0 and canceled.json()["filledQuantity"] == 100
    with client.websocket_connect(
        f"/v1/stream?since={last_seen}", headers=seller.headers
    ) as seller_ws:
        assert next_report(seller_ws)["complete"] is True
        missed = next_report(seller_ws)
        assert missed["type"] == "canceled" and missed["orderId"] == resting["id"]
        assert missed["seq"] > last_seen
    again = client.delete(f"/v1/order/{resting['id']}", headers=seller.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ORDER_FINAL"
    assert "canceled" in again.json()["error"]["message"]


def test_a_retry_with_the_same_client_order_id_returns_the_original(
    client: TestClient, admin: dict[str, str]
) -> None:
    trader = open_account(client, admin, cash=10**9)
    first = order(client, trader, price=REF - 100, clientOrderId="same")
    second = order(client, trader, price=REF - 200, quantity=5, clientOrderId="same")
    assert second == first
    assert len(client.get("/v1/orders", headers=trader.headers).json()["orders"]) == 1
    # Each reply says where the command spent its time in the engine; /metrics has it by stage.
    text = client.get("/metrics", headers=admin).text
    for stage in ("queue", "match", "replicate", "journal"):
        found = re.search(rf'engine_stage_seconds_count{{stage="{stage}"}} (\S+)', text)
        assert found is not None and float(found.group(1)) >= 2, stage


def test_every_order_rejection_reason_is_reported_with_its_code(
    client: TestClient, admin: dict[str, str]
) -> None:
    rich = open_account(client, admin, cash=10**13, shares=1_000)
    poor = open_account(client, admin, cash=1_000)
    cases: list[tuple[Trader, dict[str, Any], str]] = [
        (rich, {"symbol": "NOPE", "price": REF}, "UNKNOWN_SYMBOL"),
        (rich, {"quantity": 0, "price": REF}, "INVALID_QUANTITY"),
        (rich, {"quantity": -5, "price": REF}, "INVALID_QUANTITY"),
        (rich, {"quantity": 500_001, "price": REF}, "QUANTITY_ABOVE_MAX"),
        (rich, {}, "INVALID_PRICE"),  # a limit order without a price
        (rich, {"type": "market", "price": REF}, "INVALID_PRICE"),
        (rich, {"price": REF * 2}, "PRICE_OUT_OF_BAND"),
        (poor, {"price": REF}, "INSUFFICIENT_FUNDS"),
        (poor, {"side": "sell", "price": REF}, "INSUFFICIENT_SHARES"),
    ]
    for trader, fields, reason in cases:
        result = order(client, trader, **fields)
        assert (result["status"], result["rejectReason"]) == ("rejected", reason), fields
        assert result["id"] > 0 and result["remainingQuantity"] == 0
        assert client.get(f"/v1/order/{result['id']}", headers=trader.headers).json() == result

    # Not a rejection, but the client must see why: a market order into an empty book.
    empty = order(client, rich, symbol="FAMLI", type="market", quantity=10)
    assert (empty["status"], empty["cancelReason"]) == ("canceled", "NO_LIQUIDITY")

    # The daily limit: 1,000,000 shares of one stock per account per day, open orders included.
    order(client, rich, price=REF - 200, quantity=500_000, timeInForce="gtc")
    order(client, rich, price=REF - 200, quantity=500_000, timeInForce="gtc")
    assert order(client, rich, price=REF - 200, quantity=1)["rejectReason"] == "RISK_LIMIT"

    halted = client.post("/v1/admin/symbols/FOOLAD/halt", headers=admin)
    assert halted.json() == {"symbol": "FOOLAD", "status": "halted"}
    assert order(client, poor, price=REF, quantity=1)["rejectReason"] == "INSTRUMENT_HALTED"
    assert client.post("/v1/admin/symbols/FOOLAD/resume", headers=admin).status_code == 200
    assert client.post("/v1/admin/symbols/NOPE/halt", headers=admin).status_code == 404

    suspended = client.post(f"/v1/admin/accounts/{rich.account_id}/suspend", headers=admin)
    assert suspended.json() == {"accountId": rich.account_id, "status": "suspended"}
    # Suspension canceled the account's open orders.
    assert client.get("/v1/orders", headers=rich.headers).json()["orders"] == []
    assert order(client, rich, price=REF)["rejectReason"] == "ACCOUNT_NOT_OPEN"
    resumed = client.post(f"/v1/admin/accounts/{rich.account_id}/resume", headers=admin)
    assert resumed.json()["status"] == "open"
    assert order(client, rich, price=REF)["status"] == "new"


def test_market_closed_is_reported(tmp_path: Path) -> None:
    calendar = tmp_path / "closed.json"
    today = datetime.now(ZoneInfo("Asia/Tehran")).date()
    holidays = [str(today + timedelta(days=d)) for d in (-1, 0, 1)]  # closed around now
    calendar.write_text(json.dumps({"holidays": holidays}))
    engine = EngineProcess(tmp_path / "engine", calendar=str(calendar))
    engine.start()
    try:
        with TestClient(create_app(make_config(tmp_path, engine))) as client:
            admin = token(client, "admin", "admin-secret-for-tests")
            trader = open_account(client, admin, cash=10**9)
            result = order(client, trader, price=REF)
            assert result["rejectReason"] == "MARKET_CLOSED"
    finally:
        engine.kill()


def test_deposits_and_withdrawals_apply_once_per_reference(
    client: TestClient, admin: dict[str, str]
) -> None:
    trader = open_account(client, admin)
    path = f"/v1/admin/accounts/{trader.account_id}"
    body = {"asset": "IRR", "amount": 5_000, "reference": "wire-1"}
    first = client.post(f"{path}/deposits", json=body, headers=admin)
    assert first.status_code == 200
    assert first.json() == {
        "accountId": trader.account_id, "asset": "IRR", "amount": 5_000, "reference": "wire-1",
        "total": 5_000, "available": 5_000,
    }  # fmt: skip
    again = client.post(f"{path}/deposits", json=body, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "DUPLICATE_REFERENCE"
    out = client.post(
        f"{path}/withdrawals", json={"asset": "IRR", "amount": 2_000, "reference": "w-1"},
        headers=admin,
    )  # fmt: skip
    assert out.status_code == 200 and out.json()["total"] == 3_000
    too_much = client.post(
        f"{path}/withdrawals", json={"asset": "IRR", "amount": 9_000, "reference": "w-2"},
        headers=admin,
    )  # fmt: skip
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert client.get("/v1/account", headers=trader.headers).json()["cash"]["total"] == 3_000
    unknown = client.post("/v1/admin/accounts/999999/deposits", json=body, headers=admin)
    assert unknown.status_code == 404
    zero = client.post(f"{path}/deposits", json={**body, "amount": 0}, headers=admin)
    assert zero.status_code == 422
    assert client.post(f"{path}/deposits", json=body, headers=trader.headers).status_code == 403


def test_security_tokens_scopes_and_other_accounts(
    client: TestClient, admin: dict[str, str]
) -> None:
    alice = open_account(client, admin, cash=10**9)
    mallory = open_account(client, admin, cash=10**9)
    mine = order(client, alice, price=REF - 100)
    body = {"symbol": "FOOLAD", "side": "buy", "type": "limit", "price": REF, "quantity": 1}
    assert client.post("/v1/order", json=body).status_code == 401
    forged = jwt.encode({"sub": alice.client_id, "scope": "trade read"}, "x" * 32, "HS256")
    bad = {"Authorization": f"Bearer {forged}"}
    assert client.post("/v1/order", json=body, headers=bad).status_code == 401
    assert client.get("/v1/account", headers=bad).status_code == 401
    claims = jwt.decode(alice.access_token, options={"verify_signature": False})
    gateway = client.app.state.gateway  # type: ignore[attr-defined]
    expired, _ = gateway.issuer.issue(alice.client_id, {"trade"}, (alice.account_id,), 1_000)
    response = client.post("/v1/order", json=body, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.text.lower()
    assert claims["sub"] == alice.client_id
    # Admin credentials do not trade; trading credentials do not administer.
    assert client.post("/v1/order", json=body, headers=admin).status_code == 403
    assert client.post("/v1/admin/symbols/FOOLAD/halt", headers=alice.headers).status_code == 403
    read_only = token(client, alice.client_id, alice.client_secret)  # all scopes granted
    assert client.get("/v1/account", headers=read_only).status_code == 200
    # Another account's order: not found, and nothing about it leaks.
    for method in ("get", "delete"):
        response = client.request(method, f"/v1/order/{mine['id']}", headers=mallory.headers)
        assert response.status_code == 404, method
        assert str(alice.account_id) not in response.text and "FOOLAD" not in response.text
    forbidden = client.get(f"/v1/account?accountId={alice.account_id}", headers=mallory.headers)
    assert forbidden.status_code == 403
    assert client.get(f"/v1/order/{mine['id']}", headers=alice.headers).status_code == 200


def test_malformed_requests_get_422_with_the_error_shape(
    client: TestClient, admin: dict[str, str]
) -> None:
    trader = open_account(client, admin, cash=10**9)
    base = {"symbol": "FOOLAD", "side": "buy", "type": "limit", "price": REF, "quantity": 1}
    for bad in (
        {**base, "colour": "red"},
        {**base, "quantity": "1"},
        {**base, "side": "long"},
        {**base, "timeInForce": "forever"},
        {**base, "price": 1.5},
        {**base, "clientOrderId": "x" * 65},
        {k: v for k, v in base.items() if k != "symbol"},
    ):
        response = client.post("/v1/order", json=bad, headers=trader.headers)
        assert response.status_code == 422, bad
        assert set(response.json()["error"]) == {"code", "message"}
    broken = client.post(
        "/v1/order",
        content=b"{not json",
        headers={**trader.headers, "content-type": "application/json"},
    )
    assert broken.status_code == 422
    huge = client.post("/v1/order", content=b"x" * 20_000, headers=trader.headers)
    assert huge.status_code == 413
    assert client.get("/v1/orders?status=weird", headers=trader.headers).status_code == 422
    assert client.get("/v1/orders?foo=1", headers=trader.headers).status_code == 422
    assert client.get("/v1/order/abc", headers=trader.headers).status_code == 404


def test_rate_limits_answer_429_with_retry_after(tmp_path: Path, engine: EngineProcess) -> None:
    limits = Limits(
        orders_per_account_rate=0.5, orders_per_account_burst=3,
        per_ip_rate=1_000, per_ip_burst=1_000,
        applications_per_ip_rate=1_000, applications_per_ip_burst=1_000,
        tokens_per_ip_rate=1_000, tokens_per_ip_burst=1_000,
    )  # fmt: skip
    with TestClient(create_app(make_config(tmp_path, engine, limits))) as client:
        admin = token(client, "admin", "admin-secret-for-tests")
        trader = open_account(client, admin, cash=10**9)
        body = {"symbol": "FOOLAD", "side": "buy", "type": "limit", "price": REF, "quantity": 1}
        codes = [
            client.post("/v1/order", json=body, headers=trader.headers).status_code
            for _ in range(5)
        ]
        assert codes == [200, 200, 200, 429, 429]
        limited = client.post("/v1/order", json=body, headers=trader.headers)
        assert limited.json()["error"]["code"] == "RATE_LIMITED"
        assert int(limited.headers["retry-after"]) >= 1
        # Reads are not order-rate limited.
        assert client.get("/v1/orders", headers=trader.headers).status_code == 200
    per_client = Limits(
        per_client_rate=0.1, per_client_burst=4,
        applications_per_ip_rate=1_000, applications_per_ip_burst=1_000,
        tokens_per_ip_rate=1_000, tokens_per_ip_burst=1_000,
    )  # fmt: skip
    (tmp_path / "c").mkdir()
    with TestClient(create_app(make_config(tmp_path / "c", engine, per_client))) as client:
        admin = token(client, "admin", "admin-secret-for-tests")  # uses one of the 4
        trader = open_account(client, admin)  # approve: the admin's 2nd
        codes = [client.get("/v1/account", headers=trader.headers).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 200, 429]  # the trader's own bucket
        assert client.get("/v1/admin/kyc", headers=admin).status_code == 200  # the admin's 3rd
    tight = Limits(per_ip_rate=0.1, per_ip_burst=5)
    (tmp_path / "b").mkdir()
    with TestClient(create_app(make_config(tmp_path / "b", engine, tight))) as client:
        codes = [client.get("/v1/symbols").status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]


def test_public_symbols_metrics_and_openapi(client: TestClient, admin: dict[str, str]) -> None:
    symbols = client.get("/v1/symbols").json()
    assert len(symbols) == 100
    foolad = next(s for s in symbols if s["symbol"] == "FOOLAD")
    assert foolad == {
        "symbol": "FOOLAD", "name": "Mobarakeh Steel", "tickSize": 1, "lotSize": 1,
        "referencePrice": REF, "lowPrice": 5_159, "highPrice": 5_701,
        "maxOrderQuantity": 500_000, "status": "active",
    }  # fmt: skip
    metrics = client.get("/metrics", headers=admin)
    assert metrics.status_code == 200
    assert 'gateway_requests_total{route="list_symbols",status="200"}' in metrics.text
    document = client.get("/openapi.json").json()
    assert {"/v1/order", "/v1/order/{order_id}", "/v1/orders", "/v1/account"} <= set(
        document["paths"]
    )


def test_a_broker_credential_names_the_account_it_acts_for(
    client: TestClient, admin: dict[str, str]
) -> None:
    first = open_account(client, admin, cash=10**9)
    second = open_account(client, admin, cash=10**9)
    stranger = open_account(client, admin, cash=10**9)
    gateway = client.app.state.gateway  # type: ignore[attr-defined]
    broker_id, broker_secret = gateway.store.create_credential(
        frozenset({"trade", "read"}), (first.account_id, second.account_id)
    )
    broker = token(client, broker_id, broker_secret)
    body = {"symbol": "FOOLAD", "side": "buy", "type": "limit", "price": REF - 100, "quantity": 5}
    unnamed = client.post("/v1/order", json=body, headers=broker)
    assert unnamed.status_code == 422 and "accountId" in unnamed.json()["error"]["message"]
    placed = client.post("/v1/order", json={**body, "accountId": second.account_id}, headers=broker)
    assert placed.status_code == 200 and placed.json()["accountId"] == second.account_id
    mine = client.get(f"/v1/orders?accountId={second.account_id}", headers=broker).json()
    assert [o["id"] for o in mine["orders"]] == [placed.json()["id"]]
    first_orders = client.get(f"/v1/orders?accountId={first.account_id}", headers=broker).json()
    assert first_orders == {"orders": [], "nextCursor": None}
    other = client.post(
        "/v1/order", json={**body, "accountId": stranger.account_id}, headers=broker
    )
    assert other.status_code == 403
    assert (
        client.get(f"/v1/account?accountId={stranger.account_id}", headers=broker).status_code
        == 403
    )
    # The account's own credential sees the broker's order too: it is the account's order.
    assert client.get(f"/v1/order/{placed.json()['id']}", headers=second.headers).status_code == 200
