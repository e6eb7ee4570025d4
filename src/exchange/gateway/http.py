"""Request plumbing shared by every route: bodies, tokens, query strings, limits, JSON out."""

import asyncio
import time
from typing import Any, TypeVar

import msgspec
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from exchange.accounts import Claims, InvalidTokenError
from exchange.gateway.resources import Gateway
from exchange.web.clientkey import client_key
from exchange.web.errors import ApiError
from exchange.web.params import is_number
from exchange.web.ratelimit import RateLimiter, retry_after_header

T = TypeVar("T")
CREDENTIAL_SLOT = "exchange.credential"
"""Scope key: the credential whose in-progress slot this request holds (set by `verify`)."""
_json = msgspec.json.Encoder()


def gateway_of(conn: HTTPConnection) -> Gateway:
    gateway: Gateway = conn.app.state.gateway
    return gateway


def json_response(value: Any, status: int = 200) -> Response:
    return Response(_json.encode(value), status_code=status, media_type="application/json")


def limit(buckets: RateLimiter, key: str, what: str) -> None:
    """Take a token for `key`, or refuse with 429 and when to come back."""
    wait = buckets.take(key)
    if wait:
        raise ApiError(
            429, f"{what} rate limit exceeded", headers={"Retry-After": retry_after_header(wait)}
        )


async def read_body(request: Request, kind: type[T]) -> T:
    """The body decoded as `kind`: at most `max_body_bytes`, received within `body_timeout`.

    The deadline is what stops a client from holding a request slot by
    trickling its body (security review M3): past it the answer is 408 and
    the connection is closed, so the rest of the body is never waited for.
    """
    config = gateway_of(request).config
    limit_bytes = config.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and (not is_number(declared) or int(declared) > limit_bytes):
        raise ApiError(413, f"request body over {limit_bytes} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(config.limits.body_timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit_bytes:
                    raise ApiError(413, f"request body over {limit_bytes} bytes")
    except TimeoutError:
        raise ApiError(
            408, "the request body did not arrive in time", headers={"Connection": "close"}
        ) from None
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qsl

        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError) as error:
            raise ApiError(422, f"malformed form body: {error}") from None
        return msgspec.convert(dict(pairs), kind)
    if content_type not in ("application/json", ""):
        raise ApiError(415, f"unsupported content type {content_type!r}")
    return msgspec.json.decode(bytes(body) or b"{}", type=kind)


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def verify(conn: HTTPConnection, token: str | None, scope: str) -> Claims:
    """The caller's verified claims; 401 without a valid token, 403 without the scope."""
    if token is None:
        raise ApiError(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    gateway = gateway_of(conn)
    try:
        claims = gateway.issuer.verify(token, int(time.time()))
    except InvalidTokenError as error:
        raise ApiError(
            401, f"invalid token: {error}", headers={"WWW-Authenticate": "Bearer"}
        ) from None
    if claims.client_id in gateway.revoked:  # its tokens end with it (review H5)
        raise ApiError(401, "the credential was revoked", headers={"WWW-Authenticate": "Bearer"})
    if scope not in claims.scopes:
        raise ApiError(403, f"the token lacks the {scope!r} scope")
    limit(gateway.per_client, claims.client_id, "per-credential")
    _hold_credential_slot(conn, gateway, claims.client_id)
    return claims


def _hold_credential_slot(conn: HTTPConnection, gateway: Gateway, client_id: str) -> None:
    """Count this HTTP request against its credential's in-progress cap (GuardMiddleware frees it).

    Only requests the middleware tracks carry the slot key; WebSocket
    sessions have their own per-account cap.
    """
    scope = conn.scope
    if CREDENTIAL_SLOT not in scope or scope[CREDENTIAL_SLOT] is not None:
        return
    if not gateway.requests_per_client.acquire(client_id):
        raise ApiError(
            429, "too many requests in progress for this credential", headers={"Retry-After": "1"}
        )
    scope[CREDENTIAL_SLOT] = client_id


def authorize(request: Request, scope: str) -> Claims:
    return verify(request, bearer_token(request), scope)


def int_param(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not is_number(raw, 19) or not low <= int(raw) <= high:
        raise ApiError(422, f"{name} must be an integer from {low} to {high}")
    return int(raw)


def path_id(request: Request, name: str, what: str) -> int:
    raw = request.path_params[name]
    if not is_number(raw):
        raise ApiError(404, f"no such {what}")
    return int(raw)


def choose_account(claims: Claims, requested: int | None) -> int:
    """The account a trading call acts for: the named one, or the credential's only one."""
    if requested is not None:
        if requested not in claims.accounts:
            raise ApiError(403, "this credential may not act for that account")
        return requested
    if len(claims.accounts) == 1:
        return claims.accounts[0]
    if not claims.accounts:
        raise ApiError(403, "this credential has no trading account")
    raise ApiError(422, "this credential trades for several accounts: name accountId")


def client_ip(conn: HTTPConnection) -> str:
    """The caller's limiter key: its address, IPv6 aggregated to /64 (web/clientkey.py)."""
    return client_key(conn.client.host) if conn.client is not None else "unknown"


def limit_by_ip(buckets: RateLimiter, conn: HTTPConnection, what: str) -> None:
    limit(buckets, client_ip(conn), what)
