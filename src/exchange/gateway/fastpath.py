"""The ASGI application the server runs: the guard, then the order calls straight to their handler.

Why: under load most requests are POST /v1/order and DELETE /v1/order/{id},
and Starlette spent about a third of the gateway's CPU on each before the
handler ran: two exception-catching middlewares, the router's regexes, a
wrapper per request and a `send` wrapper per layer (bench/RESULTS.md,
2026-12-08). Those calls go from `GuardMiddleware` (per-IP limit, caps in
progress, metrics) directly to their handler here, with the same `Request`,
the same error shape (`web/errors.EXCEPTION_HANDLERS`) and the same scope
keys the guard reads (`endpoint`); everything else, the WebSocket and the
lifespan take Starlette's full path as before.
"""

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from exchange.gateway import routes_trading as trading
from exchange.gateway.middleware import GuardMiddleware
from exchange.gateway.resources import Gateway
from exchange.web.errors import EXCEPTION_HANDLERS

Endpoint = Callable[[Request], Awaitable[Response]]
ORDER = "/v1/order"
ORDER_PREFIX = "/v1/order/"


def _fast_route(scope: Scope) -> Endpoint | None:
    """The handler of an order call (path params set in `scope`), else None."""
    path: str = scope["path"]
    method: str = scope["method"]
    if path == ORDER:
        return trading.place_order if method == "POST" else None
    if path.startswith(ORDER_PREFIX) and method in ("DELETE", "GET"):
        order_id = path[len(ORDER_PREFIX) :]
        if order_id and "/" not in order_id:
            scope["path_params"] = {"order_id": order_id}
            return trading.order_resource
    return None


class GatewayApp:
    """`GuardMiddleware` around a dispatcher: order calls to their handler, the rest to Starlette.

    `state` and `app` are Starlette's, for the tests and for the connection
    guard (web/connguard.py finds `state.connection_guard` through `app`).
    """

    def __init__(self, app: Starlette, gateway: Gateway) -> None:
        self.app = app
        self.state = app.state
        self._guarded = GuardMiddleware(self._dispatch, gateway)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._guarded(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = _fast_route(scope) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app
        scope["endpoint"] = endpoint
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as error:
            response = await _handle(request, error)
        await response(scope, receive, send)


async def _handle(request: Request, error: Exception) -> Response:
    """The response Starlette's exception handlers would give (the most specific class wins)."""
    for kind in type(error).__mro__:
        handler = EXCEPTION_HANDLERS.get(kind)
        if handler is not None:
            return await handler(request, error)
    raise error  # not an Exception subclass: nothing here handles it
