"""The OpenAPI builder: paths, parameters, Struct schemas, security, error responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import msgspec
import pytest
from openapi_spec_validator import validate

from exchange.gateway.openapi import (
    ErrorBody,
    Operation,
    QueryParam,
    build_openapi,
    openapi_json,
)

TOKEN_URL = "/v1/oauth/token"


class NewOrder(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    symbol_code: str
    side: Literal["buy", "sell"]
    quantity: Annotated[int, msgspec.Meta(ge=1)]
    limit_price: int | None = None


class OrderView(msgspec.Struct, rename="camel"):
    order_id: int
    side: Literal["buy", "sell"]
    leaves_quantity: int


class Credentials(msgspec.Struct):
    client_id: str
    client_secret: str


class Token(msgspec.Struct):
    access_token: str


OPERATIONS = (
    Operation(
        "post", "/v1/order", "Place an order", NewOrder, OrderView,
        status=201, auth=("trade",), errors=(409, 503),
    ),
    Operation(
        "get", "/v1/order/{order_id}", "One order", None, OrderView,
        auth=("read",), errors=(404,),
    ),
    Operation(
        "get", "/v1/orders", "Orders", None, list[OrderView], auth=("read", "admin"),
        query=(
            QueryParam("status", {"enum": ["open", "all"]}, description="which orders"),
            QueryParam("limit", {"type": "integer", "minimum": 1}, required=True),
        ),
    ),
    Operation("get", "/v1/symbol/{symbol}", "One symbol", None, dict[str, str], errors=(404,)),
    Operation(
        "post", TOKEN_URL, "A token", Credentials, Token, errors=(400, 401), form=True,
    ),
)  # fmt: skip


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_openapi(OPERATIONS, title="Test API", version="7", token_url=TOKEN_URL)


def refs(node: Any) -> Iterator[str]:
    """Every $ref anywhere below node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema["$ref"]
    prefix = "#/components/schemas/"
    assert ref.startswith(prefix)
    resolved: dict[str, Any] = doc["components"]["schemas"][ref.removeprefix(prefix)]
    return resolved


def body_schema(operation: dict[str, Any], status: str) -> dict[str, Any]:
    schema: dict[str, Any] = operation["responses"][status]["content"]["application/json"]["schema"]
    return schema


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "Test API"
    assert doc["info"]["version"] == "7"
    validate(doc)
    validate(json.loads(openapi_json(doc)))


def test_paths_and_methods(doc: dict[str, Any]) -> None:
    assert set(doc["paths"]) == {
        "/v1/order",
        "/v1/order/{order_id}",
        "/v1/orders",
        "/v1/symbol/{symbol}",
        TOKEN_URL,
    }
    assert set(doc["paths"]["/v1/order"]) == {"post"}
    assert doc["paths"]["/v1/order"]["post"]["summary"] == "Place an order"
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert sorted(ids) == sorted(
        ["postV1Order", "getV1OrderOrderId", "getV1Orders", "getV1SymbolSymbol", "postV1OauthToken"]
    )


def test_every_ref_resolves_to_a_component(doc: dict[str, Any]) -> None:
    found = list(refs(doc))
    assert found
    for ref in found:
        resolve(doc, {"$ref": ref})
    assert {"NewOrder", "OrderView", "Credentials", "Token", "ErrorBody", "ErrorDetail"} <= set(
        doc["components"]["schemas"]
    )


def test_path_parameters_typed_by_name(doc: dict[str, Any]) -> None:
    (order_id,) = doc["paths"]["/v1/order/{order_id}"]["get"]["parameters"]
    assert order_id["name"] == "order_id"
    assert order_id["in"] == "path"
    assert order_id["required"] is True
    assert order_id["schema"]["type"] == "integer"
    (symbol,) = doc["paths"]["/v1/symbol/{symbol}"]["get"]["parameters"]
    assert symbol["in"] == "path"
    assert symbol["schema"]["type"] == "string"
    assert "parameters" not in doc["paths"]["/v1/order"]["post"]


def test_query_parameters(doc: dict[str, Any]) -> None:
    status, limit = doc["paths"]["/v1/orders"]["get"]["parameters"]
    assert status == {
        "name": "status",
        "in": "query",
        "required": False,
        "schema": {"enum": ["open", "all"]},
        "description": "which orders",
    }
    assert limit == {
        "name": "limit",
        "in": "query",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }


def test_struct_schemas_use_camel_case_and_constraints(doc: dict[str, Any]) -> None:
    post = doc["paths"]["/v1/order"]["post"]
    content = post["requestBody"]["content"]
    assert post["requestBody"]["required"] is True
    assert set(content) == {"application/json"}
    new_order = resolve(doc, content["application/json"]["schema"])
    props = new_order["properties"]
    assert set(props) == {"symbolCode", "side", "quantity", "limitPrice"}
    assert set(new_order["required"]) == {"symbolCode", "side", "quantity"}
    assert props["side"] == {"enum": ["buy", "sell"]}
    assert props["quantity"] == {"type": "integer", "minimum": 1}
    view = resolve(doc, body_schema(post, "201"))
    assert set(view["properties"]) == {"orderId", "side", "leavesQuantity"}


def test_success_response_status_and_list_schema(doc: dict[str, Any]) -> None:
    post = doc["paths"]["/v1/order"]["post"]
    assert "201" in post["responses"]
    assert "200" not in post["responses"]
    listing = body_schema(doc["paths"]["/v1/orders"]["get"], "200")
    assert listing["type"] == "array"
    assert resolve(doc, listing["items"])["title"] == "OrderView"


def test_form_body_shares_the_json_schema(doc: dict[str, Any]) -> None:
    content = doc["paths"][TOKEN_URL]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "application/x-www-form-urlencoded"}
    assert content["application/json"] == content["application/x-www-form-urlencoded"]
    credentials = resolve(doc, content["application/json"]["schema"])
    assert set(credentials["properties"]) == {"client_id", "client_secret"}


def test_security_scheme_and_requirements(doc: dict[str, Any]) -> None:
    scheme = doc["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == TOKEN_URL
    assert set(flow["scopes"]) == {"trade", "read", "admin", "compliance"}
    assert all(isinstance(text, str) and text for text in flow["scopes"].values())
    paths = doc["paths"]
    assert paths["/v1/order"]["post"]["security"] == [{"oauth2": ["trade"]}]
    assert paths["/v1/orders"]["get"]["security"] == [{"oauth2": ["read", "admin"]}]
    assert "security" not in paths["/v1/symbol/{symbol}"]["get"]
    assert "security" not in paths[TOKEN_URL]["post"]
    declared = {name for op in OPERATIONS for name in op.auth}
    assert declared <= set(flow["scopes"])


def statuses(doc: dict[str, Any], path: str, method: str) -> set[int]:
    return {int(status) for status in doc["paths"][path][method]["responses"]}


def test_automatic_error_responses(doc: dict[str, Any]) -> None:
    # Authenticated with a body: 401/403, 413/422, 429 on top of the declared 409/503.
    assert {201, 401, 403, 409, 413, 422, 429, 503} <= statuses(doc, "/v1/order", "post")
    # Authenticated, no body: no 413/422.
    got = statuses(doc, "/v1/order/{order_id}", "get")
    assert {200, 401, 403, 404, 429} <= got
    assert not {413, 422} & got
    # Public, no body: only what was declared plus 429.
    assert statuses(doc, "/v1/symbol/{symbol}", "get") == {200, 404, 429}
    # Public with a body: 413/422 but no 403.
    got = statuses(doc, TOKEN_URL, "post")
    assert {200, 400, 401, 413, 422, 429} <= got
    assert 403 not in got


def test_error_responses_use_error_body(doc: dict[str, Any]) -> None:
    error_body = doc["components"]["schemas"]["ErrorBody"]
    detail = resolve(doc, error_body["properties"]["error"])
    assert detail["properties"] == {"code": {"type": "string"}, "message": {"type": "string"}}
    assert set(detail["required"]) == {"code", "message"}
    for path in doc["paths"].values():
        for operation in path.values():
            for status, response in operation["responses"].items():
                assert response["description"]
                if int(status) >= 400:
                    assert resolve(doc, body_schema(operation, status))["title"] == "ErrorBody"
                    wants_retry = int(status) in (429, 503)
                    assert ("Retry-After" in response.get("headers", {})) == wants_retry
    retry = doc["paths"]["/v1/order"]["post"]["responses"]["503"]["headers"]["Retry-After"]
    assert retry["schema"] == {"type": "integer"}


def test_error_body_round_trips() -> None:
    raw = b'{"error": {"code": "not_found", "message": "no such order"}}'
    body = msgspec.json.decode(raw, type=ErrorBody)
    assert body.error.code == "not_found"
    assert msgspec.json.decode(msgspec.json.encode(body)) == json.loads(raw)


def test_duplicate_operation_id_is_refused() -> None:
    twice = (
        Operation("get", "/v1/order/{order_id}", "One", None, OrderView),
        Operation("get", "/v1/order/{order_id}", "Again", None, OrderView),
    )
    with pytest.raises(ValueError, match="duplicate"):
        build_openapi(twice, title="t", version="1", token_url=TOKEN_URL)
    # Different paths that read the same in camelCase collide too.
    clash = (
        Operation("get", "/v1/order-book", "One", None, OrderView),
        Operation("get", "/v1/order_book", "Two", None, OrderView),
    )
    with pytest.raises(ValueError, match="duplicate"):
        build_openapi(clash, title="t", version="1", token_url=TOKEN_URL)


def test_openapi_json_is_the_document_as_bytes(doc: dict[str, Any]) -> None:
    encoded = openapi_json(doc)
    assert isinstance(encoded, bytes)
    assert json.loads(encoded) == doc
