"""The guard in front of every market-data route: block/allow lists, a per-IP bucket, a per-IP cap.

It runs before routing and before anything is computed: a refused request
costs a set lookup and a bucket update. Allowlisted addresses skip the
bucket and the cap; blocklisted ones are refused outright (403, or a
WebSocket closed with 1008). The cap counts what an address has open at
once: requests in progress and WebSocket sessions. The bucket and the cap
are keyed by `client_key` (IPv6 per /64); the lists match exact addresses.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from exchange.marketdata.access import AccessLists
from exchange.web.clientkey import client_key
from exchange.web.concurrency import ConnectionLimiter
from exchange.web.errors import error_response
from exchange.web.ratelimit import TokenBuckets, retry_after_header

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        access: AccessLists,
        connections: ConnectionLimiter,
        rate: float,
        burst: int,
    ) -> None:
        self.app = app
        self.access = access
        self.connections = connections
        self.buckets = TokenBuckets(rate, burst)
        self.refused = {"blocked": 0, "rate": 0, "connections": 0}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        if not self.access.allowed(ip):
            self.refused["blocked"] += 1
            await self._refuse(scope, receive, send, 403, "FORBIDDEN", "address blocked", None)
            return
        if self.access.exempt(ip):
            await self.app(scope, receive, send)
            return
        key = client_key(ip)
        wait = self.buckets.take(key)
        if wait:
            self.refused["rate"] += 1
            retry = retry_after_header(wait)
            await self._refuse(
                scope, receive, send, 429, "RATE_LIMITED", "per-IP rate limit", retry
            )
            return
        if not self.connections.acquire(key):
            self.refused["connections"] += 1
            await self._refuse(
                scope, receive, send, 429, "TOO_MANY_CONNECTIONS", "too many open at once", "1"
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.connections.release(key)

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        code: str,
        message: str,
        retry_after: str | None,
    ) -> None:
        if scope["type"] == "websocket":
            close = POLICY_VIOLATION if status == 403 else TRY_AGAIN_LATER
            await send({"type": "websocket.close", "code": close, "reason": message})
            return
        headers = {"Retry-After": retry_after} if retry_after else None
        await error_response(status, code, message, headers)(scope, receive, send)
