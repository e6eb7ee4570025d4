"""Security review L8: GET /v1/orders costs what its page holds, not what the account holds.

The gateway's view is filled directly with a large account (pure events, no
engine needed), and a counting dictionary in place of the view's orders
tells how many orders one request touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from exchange.accounts import new_signing_key
from exchange.core import OrderType, Side, TimeInForce
from exchange.core.events import Fill, OrderAccepted
from exchange.engine.ports import free_ports
from exchange.gateway import GatewayConfig, create_app
from exchange.views.order_view import ExchangeView
from tests import migrated
from tests.curve import key_directory
from tests.gateway.conftest import GENEROUS, token

ORDERS = 5_000
SYMBOLS = ("FOOLAD", "FAMLI")


class CountingDict(dict[int, Any]):
    """The view's order table, counting every order read."""

    touched = 0

    def __getitem__(self, key: int) -> Any:
        CountingDict.touched += 1
        return super().__getitem__(key)

    def get(self, key: int, default: Any = None) -> Any:
        CountingDict.touched += 1
        return super().get(key, default)


@pytest.fixture
def big_account(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    engine_port, publish_port = free_ports(2)
    (tmp_path / "journal").mkdir()
    config = GatewayConfig(
        db_url=migrated.accounts_db(f"sqlite:///{tmp_path / 'accounts.db'}"),
        engine_endpoint=f"tcp://127.0.0.1:{engine_port}",
        engine_publish=f"tcp://127.0.0.1:{publish_port}",
        journal=tmp_path / "journal",
        keys_dir=key_directory(tmp_path).path,  # no engine here, but keys to start with
        signing_key=new_signing_key(),
        limits=GENEROUS,
    )
    with TestClient(create_app(config)) as client:
        gateway = client.app.state.gateway  # type: ignore[attr-defined]
        view: ExchangeView = gateway.view
        events: list[Any] = [
            OrderAccepted(
                order_id=n,
                account=1,
                client_order_id=f"c{n}",
                symbol=SYMBOLS[n % 2],
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                time_in_force=TimeInForce.GTC,
                price=5_000,
                quantity=1_000,
                ts=n,
            )
            for n in range(1, ORDERS + 1)
        ]
        # The newest order has many executions (partial fills of 1).
        events += [
            Fill(
                trade_id=t,
                order_id=ORDERS,
                account=1,
                symbol=SYMBOLS[ORDERS % 2],
                side=Side.BUY,
                price=5_000,
                quantity=1,
                leaves_quantity=1_000 - t,
                cum_quantity=t,
                aggressor=False,
                ts=t,
            )
            for t in range(1, 101)
        ]
        view.apply_events(events, 1, [])
        view.orders = CountingDict(view.orders)
        client_id, secret = gateway.store.create_credential(frozenset({"read"}), (1,))
        yield client, token(client, client_id, secret)


def listing(client: TestClient, headers: dict[str, str], query: str) -> tuple[list[Any], Any]:
    CountingDict.touched = 0
    response = client.get(f"/v1/orders?{query}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["orders"], body.get("nextCursor")


def test_l8_orders_touched_per_request_bounded_by_limit(
    big_account: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = big_account
    queries = (
        "status=open&limit=10",
        "status=all&limit=10",
        "status=open&limit=10&symbol=FAMLI",
        "status=all&limit=10&symbol=FOOLAD",
    )
    for query in queries:
        orders, cursor = listing(client, headers, query)
        assert len(orders) == 10
        assert CountingDict.touched <= 10, query  # not the account's 5,000
        assert cursor == str(orders[-1]["id"])


def test_l8_cursor_pages_in_order_without_gaps(
    big_account: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = big_account
    first, cursor = listing(client, headers, "status=open&limit=3")
    assert [o["id"] for o in first] == [1, 2, 3]  # open: oldest first
    second, _ = listing(client, headers, f"status=open&limit=3&cursor={cursor}")
    assert [o["id"] for o in second] == [4, 5, 6]
    assert CountingDict.touched <= 3
    newest, cursor = listing(client, headers, "status=all&limit=2&symbol=FOOLAD")
    assert [o["id"] for o in newest] == [ORDERS, ORDERS - 2]  # all: newest first
    older, _ = listing(client, headers, f"status=all&limit=2&symbol=FOOLAD&cursor={cursor}")
    assert [o["id"] for o in older] == [ORDERS - 4, ORDERS - 6]
    last, cursor = listing(client, headers, "status=open&limit=1000&cursor=4500")
    assert len(last) == ORDERS - 4500 and cursor is None  # a short page is the last


def test_l8_executions_per_order_capped_in_lists(
    big_account: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = big_account
    orders, _ = listing(client, headers, "status=all&limit=1")
    assert orders[0]["filledQuantity"] == 100
    assert len(orders[0]["executions"]) == 20  # the latest 20 of 100
    assert orders[0]["executions"][-1]["id"] == 100
    one = client.get(f"/v1/order/{ORDERS}", headers=headers).json()
    assert len(one["executions"]) == 100  # one order: all of them
