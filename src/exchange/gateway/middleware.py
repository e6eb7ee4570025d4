"""Per-IP rate limiting, the in-flight caps and request metrics, as one small ASGI middleware.

It runs before routing and before any body is read, so a flood from one
address costs a dictionary lookup per request and never reaches the engine.
Requests in progress are capped three ways, each answered at once instead of
queued: per client address (429), per credential (429, taken in `verify`
once the token is known and released here), and in total (503 with
Retry-After: a saturated gateway sheds load). The per-address and
per-credential caps are what keep one client's slow bodies from filling the
total for everyone (security review M3). Addresses are keyed by
`client_key` (IPv6 per /64).
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.gateway.http import CREDENTIAL_SLOT
from exchange.gateway.resources import Gateway
from exchange.web.clientkey import client_key
from exchange.web.errors import error_response
from exchange.web.ratelimit import retry_after_header


class GuardMiddleware:
    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway
        self.in_flight = 0
        self.max_in_flight = gateway.config.limits.max_concurrent_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        gateway = self.gateway
        client = scope.get("client")
        key = client_key(client[0]) if client else "unknown"
        wait = gateway.per_ip.take(key)
        if wait:
            gateway.metrics.rate_limited.labels("ip").inc()
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1013, "reason": "rate limited"})
                return
            response = error_response(
                429, "RATE_LIMITED", "per-IP rate limit exceeded",
                {"Retry-After": retry_after_header(wait)},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            gateway.metrics.rate_limited.labels("saturated").inc()
            response = error_response(
                503, "UNAVAILABLE", "the gateway is saturated", {"Retry-After": "1"}
            )
            await response(scope, receive, send)
            return
        if not gateway.requests_per_ip.acquire(key):
            gateway.metrics.rate_limited.labels("ip_in_progress").inc()
            response = error_response(
                429, "RATE_LIMITED", "too many requests in progress from this address",
                {"Retry-After": "1"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        self.in_flight += 1
        scope[CREDENTIAL_SLOT] = None

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            self.in_flight -= 1
            gateway.requests_per_ip.release(key)
            credential = scope.get(CREDENTIAL_SLOT)
            if credential is not None:
                gateway.requests_per_client.release(credential)
            endpoint = scope.get("endpoint")
            route = getattr(endpoint, "__name__", "unmatched")
            metrics = gateway.metrics
            metrics.answered(route, status).inc()
            metrics.request_latency(route).observe(time.perf_counter() - started)
            if status == 429:
                metrics.rate_limited.labels("other").inc()
