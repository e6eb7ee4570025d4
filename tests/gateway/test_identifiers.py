"""H3/M2 at the REST edge: identifiers with control characters get a 422, never the engine."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.gateway.conftest import open_account

BASE = {"symbol": "FOOLAD", "side": "buy", "type": "limit", "price": 5_430, "quantity": 1}


def test_h3_nul_client_order_id_refused_at_edge(client: TestClient, admin: dict[str, str]) -> None:
    trader = open_account(client, admin, cash=10**9)
    for bad in (
        {**BASE, "clientOrderId": "\u0000"},
        {**BASE, "clientOrderId": "a\u0000b"},
        {**BASE, "clientOrderId": "X\u000139=2\u000114=1000"},  # M2: FIX tag injection
        {**BASE, "clientOrderId": "trailing\n"},
        {**BASE, "clientOrderId": "with space"},
        {**BASE, "symbol": "FOOLAD\u0000"},
        {**BASE, "symbol": "FOO\u0001LAD"},
        {**BASE, "symbol": "foolad"},
    ):
        response = client.post("/v1/order", json=bad, headers=trader.headers)
        assert response.status_code == 422, (bad, response.text)
        assert set(response.json()["error"]) == {"code", "message"}
    for reference in ("\u0000", "ref\u0001", "ref\n"):
        moved = client.post(
            f"/v1/admin/accounts/{trader.account_id}/deposits",
            json={"asset": "IRR", "amount": 1, "reference": reference},
            headers=admin,
        )
        assert moved.status_code == 422, (reference, moved.text)
    accepted = client.post(
        "/v1/order", json={**BASE, "clientOrderId": "ok~!{}"}, headers=trader.headers
    )
    assert accepted.status_code == 200 and accepted.json()["clientOrderId"] == "ok~!{}"
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    order_in = schemas["OrderIn"]["properties"]
    assert order_in["clientOrderId"]["anyOf"][0]["pattern"].startswith("^[\\x21-\\x7e]{1,64}")
    assert order_in["symbol"]["pattern"].startswith("^[A-Z0-9]{1,16}")
