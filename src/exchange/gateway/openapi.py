"""An OpenAPI 3.1 document built from the msgspec Structs the gateway validates with.

msgspec generates the JSON schemas (`schema_components`), so /openapi.json
describes exactly what the gateway accepts and returns; this module adds
paths, parameters, the OAuth2 security scheme and the error responses.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec


class ErrorDetail(msgspec.Struct):
    """A machine-readable code and a human message."""

    code: str
    message: str


class ErrorBody(msgspec.Struct):
    """The body of every error response: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


@dataclass(frozen=True)
class QueryParam:
    """A query string parameter with its JSON schema."""

    name: str
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """One method on one path (Starlette style, `{name}` for path parameters)."""

    method: str
    path: str
    summary: str
    request: type | None
    response: Any
    status: int = 200
    auth: tuple[str, ...] = ()
    """The OAuth2 scope required; empty for public operations."""
    query: tuple[QueryParam, ...] = field(default=())
    errors: tuple[int, ...] = ()
    form: bool = False
    """The body may also come as application/x-www-form-urlencoded."""
    media_type: str = "application/json"


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid or expired token",
    403: "The token lacks the scope or the account",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Malformed request (unknown field, wrong type, bad value)",
    429: "Rate limited: retry after Retry-After seconds",
    503: "Engine unavailable or saturated: retry after Retry-After seconds",
}
SCOPES = {
    "trade": "place and cancel orders",
    "read": "read orders, executions and balances",
    "admin": "deposits, withdrawals, suspensions, halts",
    "compliance": "review KYC applications",
}
_PARAM = re.compile(r"{(\w+)}")


def _operation_id(method: str, path: str) -> str:
    """`get /v1/order/{order_id}` -> `getV1OrderOrderId`."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", path) if w]
    return method + "".join(w[:1].upper() + w[1:] for w in words)


def _responses(op: Operation, ref: dict[str, Any], error_ref: dict[str, Any]) -> dict[str, Any]:
    """Success, the declared errors, and those implied by auth, a body and rate limits."""
    responses: dict[str, Any] = {
        str(op.status): {
            "description": "Success",
            "content": {op.media_type: {"schema": ref}},
        }
    }
    errors = set(op.errors) | {429}
    if op.auth:
        errors |= {401, 403}
    if op.request is not None:
        errors |= {413, 415, 422}
    for status in sorted(errors):
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {"application/json": {"schema": error_ref}},
        }
        if status in (429, 503):
            entry["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
            }
        responses[str(status)] = entry
    return responses


def build_openapi(
    operations: Sequence[Operation],
    *,
    title: str,
    version: str,
    token_url: str,
    description: str = "",
    extra: Sequence[Any] = (),
) -> dict[str, Any]:
    """The document; `extra` types join the components without an operation of their own."""
    types: list[Any] = [ErrorBody]
    for op in operations:
        if op.request is not None:
            types.append(op.request)
        types.append(op.response)
    schemas, components = msgspec.json.schema_components(
        [*types, *extra], ref_template="#/components/schemas/{name}"
    )
    error_ref = schemas[0]
    refs = iter(schemas[1:])
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for op in operations:
        request_ref = next(refs) if op.request is not None else None
        response_ref = next(refs)
        operation_id = _operation_id(op.method, op.path)
        if operation_id in seen:
            raise ValueError(f"duplicate operation {op.method.upper()} {op.path}")
        seen.add(operation_id)
        parameters: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 0}
                if name.endswith(("_id", "Id"))
                else {"type": "string", "maxLength": 16},
            }
            for name in _PARAM.findall(op.path)
        ]
        parameters += [
            {
                "name": q.name,
                "in": "query",
                "required": q.required,
                "schema": q.schema,
                **({"description": q.description} if q.description else {}),
            }
            for q in op.query
        ]
        entry: dict[str, Any] = {
            "operationId": operation_id,
            "summary": op.summary,
            "responses": _responses(op, response_ref, error_ref),
        }
        if parameters:
            entry["parameters"] = parameters
        if request_ref is not None:
            content = {"application/json": {"schema": request_ref}}
            if op.form:
                content["application/x-www-form-urlencoded"] = {"schema": request_ref}
            entry["requestBody"] = {"required": True, "content": content}
        if op.auth:
            entry["security"] = [{"oauth2": list(op.auth)}]
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": SCOPES}},
                }
            },
        },
    }


def openapi_json(document: dict[str, Any]) -> bytes:
    """The document as served on /openapi.json."""
    return msgspec.json.encode(document)
