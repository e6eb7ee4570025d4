"""The API's description: every route with its schemas, for GET /openapi.json.

Built from the same msgspec Structs that validate requests, so the document
cannot drift from what the gateway accepts.
"""

from typing import Any

from exchange.gateway.history import MAX_TIME_MS
from exchange.gateway.openapi import Operation, QueryParam, build_openapi, openapi_json
from exchange.gateway.schemas import (
    AccountOut,
    AccountStatusOut,
    ApplicationIn,
    ApplicationOut,
    ApproveOut,
    CredentialsOut,
    ExecutionListOut,
    HealthOut,
    KycListOut,
    MovementIn,
    MovementOut,
    OrderIn,
    OrderListOut,
    OrderOut,
    RejectIn,
    ReportOut,
    RevokedOut,
    SymbolOut,
    SymbolStatusOut,
    TokenIn,
    TokenOut,
)

_ACCOUNT = QueryParam(
    "accountId",
    {"type": "integer", "minimum": 1},
    description="The account to act for, when the credential has several",
)
_ENGINE = (503,)
_TIME_MS = {"type": "integer", "minimum": 0, "maximum": MAX_TIME_MS}
ORDER_STATUSES = (
    "open", "all", "new", "partially_filled", "filled", "canceled", "rejected", "expired",
)  # fmt: skip
_WINDOW = (
    QueryParam("startTime", _TIME_MS, description="epoch ms"),
    QueryParam("endTime", _TIME_MS, description="epoch ms, inclusive"),
    QueryParam(
        "cursor",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
        description="nextCursor of the previous page",
    ),
    QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
)
KYC_STATUSES = ("pending_review", "approved", "rejected")
TOKEN_URL = "/v1/oauth/token"  # noqa: S105 (a path, not a secret)

OPERATIONS = (
    Operation("get", "/healthz", "Liveness", None, HealthOut, errors=(503,)),
    Operation("get", "/readyz", "Readiness", None, HealthOut, errors=(503,)),
    Operation("get", "/openapi.json", "This document", None, dict[str, Any]),
    Operation(
        "get", "/metrics", "Prometheus metrics (admin scope)", None, str,
        media_type="text/plain; version=0.0.4", auth=("admin",),
    ),
    Operation("get", "/v1/symbols", "Every listed instrument", None, list[SymbolOut]),
    Operation(
        "post", "/v1/accounts",
        "Apply for an account (automated KYC); with a compliance token, an officer files it "
        "for a customer and the per-address application limit does not apply",
        ApplicationIn, ApplicationOut, status=201, errors=(401, 403),
    ),
    Operation(
        "post", "/v1/oauth/token", "OAuth2 client credentials: get an access token",
        TokenIn, TokenOut, errors=(400, 401, 403), form=True,
    ),
    Operation(
        "get", "/v1/admin/kyc", "Applications by status", None, KycListOut,
        auth=("compliance",),
        query=(
            QueryParam("status", {"type": "string", "enum": list(KYC_STATUSES)}),
            QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
        errors=(422,),
    ),
    Operation(
        "post", "/v1/admin/kyc/{application_id}/approve",
        "Approve: opens the account and issues its credential (the secret is shown once)",
        None, ApproveOut, auth=("compliance",), errors=(404, 409, *_ENGINE),
    ),
    Operation(
        "post", "/v1/admin/kyc/{application_id}/reject", "Reject an application",
        RejectIn, ApplicationOut, auth=("compliance",), errors=(404, 409),
    ),
    Operation(
        "post", "/v1/admin/accounts/{account_id}/deposits", "Deposit cash (IRR) or shares",
        MovementIn, MovementOut, auth=("admin",), errors=(404, 409, *_ENGINE),
    ),
    Operation(
        "post", "/v1/admin/accounts/{account_id}/withdrawals", "Withdraw cash (IRR) or shares",
        MovementIn, MovementOut, auth=("admin",), errors=(404, 409, *_ENGINE),
    ),
    Operation(
        "get", "/v1/admin/accounts/{account_id}/credentials",
        "The account's credentials (client ids, whether revoked; never a secret)",
        None, CredentialsOut, auth=("admin",), errors=(404,),
    ),
    Operation(
        "post", "/v1/admin/accounts/{account_id}/credentials",
        "Issue a new credential for the account (rotation: then revoke the old one)",
        None, ApproveOut, status=201, auth=("admin",), errors=(404,),
    ),
    Operation(
        "post", "/v1/admin/credentials/{client_id}/revoke",
        "Revoke a credential: its tokens, streams and FIX session end within a second",
        None, RevokedOut, auth=("admin",), errors=(404,),
    ),
    Operation(
        "post", "/v1/admin/accounts/{account_id}/suspend",
        "Suspend an account (its open orders are canceled)",
        None, AccountStatusOut, auth=("admin",), errors=(404, 409, *_ENGINE),
    ),
    Operation(
        "post", "/v1/admin/accounts/{account_id}/resume", "Resume a suspended account",
        None, AccountStatusOut, auth=("admin",), errors=(404, 409, *_ENGINE),
    ),
    Operation(
        "post", "/v1/admin/symbols/{symbol}/halt", "Halt trading in a symbol",
        None, SymbolStatusOut, auth=("admin",), errors=(404, 409, *_ENGINE),
    ),
    Operation(
        "post", "/v1/admin/symbols/{symbol}/resume", "Resume trading in a symbol",
        None, SymbolStatusOut, auth=("admin",), errors=(404, 409, *_ENGINE),
    ),
    Operation(
        "post", "/v1/order", "Place an order; the response carries its fills so far",
        OrderIn, OrderOut, auth=("trade",), errors=(*_ENGINE,),
    ),
    Operation(
        "get", "/v1/order/{order_id}", "One of your orders, with its executions",
        None, OrderOut, auth=("read",), query=(_ACCOUNT,), errors=(404, 422, *_ENGINE),
    ),
    Operation(
        "delete", "/v1/order/{order_id}", "Cancel an order",
        None, OrderOut, auth=("trade",), query=(_ACCOUNT,), errors=(404, 409, 422, *_ENGINE),
    ),
    Operation(
        "get", "/v1/orders",
        "Your orders: open or recent from the live view (paged by cursor, the latest 20 "
        "executions each), or the history with startTime or endTime",
        None, OrderListOut,
        auth=("read",),
        query=(
            _ACCOUNT,
            QueryParam("status", {"type": "string", "enum": list(ORDER_STATUSES)}),
            QueryParam("symbol", {"type": "string", "minLength": 1, "maxLength": 16}),
            *_WINDOW,
        ),
        errors=(422, *_ENGINE),
    ),
    Operation(
        "get", "/v1/execution", "Your executions, oldest first, paged by cursor",
        None, ExecutionListOut,
        auth=("read",),
        query=(
            _ACCOUNT,
            QueryParam("symbol", {"type": "string", "minLength": 1, "maxLength": 16}),
            QueryParam("orderId", {"type": "integer", "minimum": 1}),
            *_WINDOW,
        ),
        errors=(422, *_ENGINE),
    ),
    Operation(
        "get", "/v1/account", "Your cash and positions", None, AccountOut,
        auth=("read",), query=(_ACCOUNT,), errors=(404, 422, *_ENGINE),
    ),
)  # fmt: skip


DESCRIPTION = """REST for brokers. Execution reports stream on the WebSocket `GET /v1/stream`
(token in the Authorization header or `?access_token=`; `?since=<seq>` resumes; the first
message is `{"type": "subscribed", "accountId", "since", "complete"}`, then one `ReportOut`
per message)."""


def openapi_document() -> bytes:
    document = build_openapi(
        OPERATIONS,
        title="Exchange client gateway",
        version="1",
        token_url=TOKEN_URL,
        description=DESCRIPTION,
        extra=[ReportOut],
    )
    return openapi_json(document)
