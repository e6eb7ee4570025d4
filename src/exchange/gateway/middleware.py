"""Per-IP rate limiting, the in-flight cap and request metrics, as one small ASGI middleware.

It runs before routing and before any body is read, so a flood from one
address costs a dictionary lookup per request and never reaches the engine.
When `max_concurrent_requests` HTTP requests are already being served, the
next one gets 503 with Retry-After at once: a saturated gateway sheds load
instead of queueing without bound.
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.gateway.resources import Gateway
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
        ip = client[0] if client else "unknown"
        wait = gateway.per_ip.take(ip)
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
        started = time.perf_counter()
        status = 500
        self.in_flight += 1

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            self.in_flight -= 1
            endpoint = scope.get("endpoint")
            route = getattr(endpoint, "__name__", "unmatched")
            metrics = gateway.metrics
            metrics.requests.labels(route, str(status)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)
            if status == 429:
                metrics.rate_limited.labels("other").inc()
