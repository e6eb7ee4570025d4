"""Public endpoints: health, readiness, the instrument list, the API description; and metrics,
for admins."""

import asyncio

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from exchange.gateway.http import authorize, gateway_of, json_response
from exchange.gateway.render import symbol_out
from exchange.gateway.schemas import HealthOut
from exchange.web.params import query


async def healthz(request: Request) -> Response:
    """503 when the order view has stopped following the engine (reads would be stale)."""
    follower = gateway_of(request).follower
    if follower is None or not follower.healthy:
        return json_response(HealthOut("the order view is not following the engine"), 503)
    return json_response(HealthOut("ok"))


READY_TIMEOUT = 1.0
"""Seconds the engine and the accounts database each have to answer a readiness check."""


def _database_answers(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


async def readyz(request: Request) -> Response:
    """200 only when the gateway can serve: its view follows the engine, the engine answers a
    query, and the accounts database answers (liveness alone is /healthz)."""
    gateway = gateway_of(request)
    follower = gateway.follower
    if follower is None or not follower.healthy:
        return json_response(HealthOut("the order view is not following the engine"), 503)
    try:
        await asyncio.wait_for(gateway.engine.account(0), READY_TIMEOUT)
    except Exception:  # any failure means "not ready", never a 500
        return json_response(HealthOut("the engine does not answer"), 503)
    try:
        await asyncio.wait_for(
            run_in_threadpool(_database_answers, gateway.store.engine), READY_TIMEOUT
        )
    except Exception:
        return json_response(HealthOut("the accounts database does not answer"), 503)
    return json_response(HealthOut("ready"))


async def list_symbols(request: Request) -> Response:
    query(request, frozenset())
    view = gateway_of(request).view
    return json_response([symbol_out(s) for s in view.symbols.values()])


async def metrics(request: Request) -> Response:
    """Prometheus text, for the `admin` scope only (security review L5).

    The request mix, refusal counts, stream counts and engine stage latencies
    tell an outsider how the exchange is loaded and defended. A bearer token
    rather than a second loopback listener: one port to run and firewall,
    Prometheus sends the token (`authorization` in its scrape config), and
    `exchange bench` already holds an admin credential.
    """
    authorize(request, "admin")
    gateway = gateway_of(request)
    if gateway.follower is not None:
        gateway.metrics.view_seq.set(gateway.follower.view.next_seq)
    return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4")


async def openapi(request: Request) -> Response:
    document: bytes = request.app.state.openapi
    return Response(document, media_type="application/json")
