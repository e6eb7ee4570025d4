"""The client gateway's HTTP application: routes, middleware and lifecycle.

Starlette on uvicorn, the order calls on a shorter path (fastpath.py). The
engine is reached through the asyncio `EngineClient`; the order view follows
the engine's batch feed (backed by its journal). Every error has one shape
(errors.py); bodies are msgspec Structs that refuse unknown fields and wrong types (422).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from exchange.engine.client import EngineClient
from exchange.engine.curve import keys_for
from exchange.engine.feed import open_feed
from exchange.gateway import routes_accounts as accounts
from exchange.gateway import routes_admin as admin
from exchange.gateway import routes_credentials as credentials
from exchange.gateway import routes_public as public
from exchange.gateway import routes_trading as trading
from exchange.gateway.api import openapi_document
from exchange.gateway.fastpath import GatewayApp
from exchange.gateway.follower import Follower
from exchange.gateway.resources import Gateway, GatewayConfig
from exchange.gateway.stream import stream
from exchange.heap import settle
from exchange.views.order_view import ExchangeView
from exchange.web.connguard import raise_open_files_limit
from exchange.web.errors import EXCEPTION_HANDLERS

# Starlette tries routes in order with a regex each: the trading calls come first
# (8x cheaper to route POST /v1/order than at the end of the list; bench/RESULTS.md).
ROUTES = [
    Route("/v1/order", trading.place_order, methods=["POST"]),
    Route("/v1/order/{order_id}", trading.order_resource, methods=["GET", "DELETE"]),
    Route("/v1/orders", trading.list_orders),
    Route("/v1/execution", trading.list_executions),
    Route("/v1/account", trading.get_account),
    Route("/healthz", public.healthz),
    Route("/readyz", public.readyz),
    Route("/metrics", public.metrics),
    Route("/openapi.json", public.openapi),
    Route("/v1/symbols", public.list_symbols),
    Route("/v1/accounts", accounts.submit_application, methods=["POST"]),
    Route("/v1/oauth/token", accounts.issue_token, methods=["POST"]),
    Route("/v1/admin/kyc", accounts.list_applications),
    Route("/v1/admin/kyc/{application_id}/approve", accounts.approve_application, methods=["POST"]),
    Route("/v1/admin/kyc/{application_id}/reject", accounts.reject_application, methods=["POST"]),
    Route("/v1/admin/accounts/{account_id}/deposits", admin.deposit, methods=["POST"]),
    Route("/v1/admin/accounts/{account_id}/withdrawals", admin.withdraw, methods=["POST"]),
    Route("/v1/admin/accounts/{account_id}/suspend", admin.suspend_account, methods=["POST"]),
    Route("/v1/admin/accounts/{account_id}/resume", admin.resume_account, methods=["POST"]),
    Route("/v1/admin/symbols/{symbol}/halt", admin.halt_symbol, methods=["POST"]),
    Route("/v1/admin/symbols/{symbol}/resume", admin.resume_symbol, methods=["POST"]),
    Route(
        "/v1/admin/accounts/{account_id}/credentials",
        credentials.account_credentials,
        methods=["GET", "POST"],
    ),
    Route("/v1/admin/credentials/{client_id}/revoke", credentials.revoke, methods=["POST"]),
    WebSocketRoute("/v1/stream", stream),
]


def create_app(config: GatewayConfig) -> GatewayApp:
    gateway = Gateway(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise_open_files_limit()
        keys = keys_for(config.journal, config.keys_dir)
        gateway.client, gateway.admin_client = (
            EngineClient(
                config.engine_endpoint,
                keys=keys.client(role),
                timeout=config.engine_timeout,
                deadline=config.engine_deadline,
            )
            for role in ("trading", "admin")
        )
        feed = open_feed(
            config.engine_publish,
            config.journal,
            keys,
            journal_service=config.journal_service,
            shard=config.account_shard,
            shards=config.account_shards,
        )
        follower = Follower(feed, ExchangeView(), queue_capacity=config.limits.stream_queue)
        revocations = asyncio.ensure_future(gateway.watch_revocations())
        try:
            await follower.start()
            gateway.follower = follower
            settle()
            yield
        finally:
            revocations.cancel()
            gateway.follower = None
            await follower.close()
            await gateway.client.close()
            await gateway.admin_client.close()
            gateway.client = gateway.admin_client = None

    app = Starlette(routes=ROUTES, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    app.state.gateway = gateway
    app.state.connection_guard = gateway.connection_guard  # read by web/connguard.py's protocol
    app.state.openapi = openapi_document()
    return GatewayApp(app, gateway)  # the guard, then the order calls without Starlette's stack
