"""Numbers in the gateway's query strings and paths are ASCII digits (review L1)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.gateway.conftest import open_account


def test_l1_unicode_digits_are_refused_by_the_gateway(
    client: TestClient, admin: dict[str, str]
) -> None:
    trader = open_account(client, admin)
    for raw in ("%C2%B2", "%D9%A1%D9%A2"):
        listed = client.get(f"/v1/orders?limit={raw}", headers=trader.headers)
        assert listed.status_code == 422, (raw, listed.text)
        one = client.get(f"/v1/order/{raw}", headers=trader.headers)
        assert one.status_code in (404, 422), (raw, one.text)
        assert one.json()["error"]["code"] in ("NOT_FOUND", "INVALID_REQUEST")
