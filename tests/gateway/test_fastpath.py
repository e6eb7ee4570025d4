"""The order calls' short path: which requests take it, and the same error shapes as Starlette's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest
from starlette.requests import Request

from exchange.gateway import routes_trading as trading
from exchange.gateway.fastpath import _fast_route, _handle
from exchange.web.errors import ApiError


def scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}


@pytest.mark.parametrize(
    ("method", "path", "endpoint", "params"),
    [
        ("POST", "/v1/order", trading.place_order, None),
        ("DELETE", "/v1/order/42", trading.order_resource, {"order_id": "42"}),
        ("GET", "/v1/order/abc", trading.order_resource, {"order_id": "abc"}),  # 404 there
        ("GET", "/v1/order", None, None),  # 405 from Starlette, with Allow
        ("PUT", "/v1/order/42", None, None),
        ("HEAD", "/v1/order/42", None, None),
        ("GET", "/v1/order/42/x", None, None),
        ("GET", "/v1/order/", None, None),
        ("GET", "/v1/orders", None, None),
    ],
)
def test_only_the_order_calls_take_the_short_path(
    method: str, path: str, endpoint: object, params: dict[str, str] | None
) -> None:
    request = scope(method, path)
    assert _fast_route(request) is endpoint
    assert request.get("path_params") == params


def answer(error: Exception) -> tuple[int, dict[str, Any]]:
    response = asyncio.run(_handle(Request(scope("POST", "/v1/order")), error))
    return response.status_code, json.loads(bytes(response.body))


def test_errors_keep_the_one_shape() -> None:
    assert answer(ApiError(429, "slow down", headers={"Retry-After": "1"})) == (
        429, {"error": {"code": "RATE_LIMITED", "message": "slow down"}},
    )  # fmt: skip
    try:
        msgspec.json.decode(b'{"x": 1}', type=dict[str, str])
    except msgspec.ValidationError as error:
        status, body = answer(error)
    assert status == 422 and body["error"]["code"] == "INVALID_REQUEST"
    assert answer(RuntimeError("a bug with internals")) == (
        500, {"error": {"code": "INTERNAL_ERROR", "message": "internal error"}},
    )  # fmt: skip
