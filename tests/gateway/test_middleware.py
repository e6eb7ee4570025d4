"""The guard in front of every route: a bounded number of requests in flight, then 503."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from exchange.accounts import new_signing_key
from exchange.gateway import GatewayConfig, Limits
from exchange.gateway.middleware import GuardMiddleware
from exchange.gateway.resources import Gateway
from tests import migrated
from tests.curve import key_directory


def test_requests_beyond_the_in_flight_cap_get_503_with_retry_after(tmp_path: Path) -> None:
    config = GatewayConfig(
        db_url=migrated.accounts_db(f"sqlite:///{tmp_path / 'a.db'}"),
        engine_endpoint="tcp://127.0.0.1:1",
        signing_key=new_signing_key(),
        journal=tmp_path / "journal",
        keys_dir=key_directory(tmp_path).path,  # no engine here, but keys to start with
        limits=Limits(max_concurrent_requests=2, max_requests_per_ip=10),  # the total cap binds
    )
    gateway = Gateway(config)
    release = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = GuardMiddleware(slow_app, gateway)

    async def call() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        scope = {"type": "http", "method": "GET", "path": "/x", "headers": [],
                 "client": ("10.0.0.1", 1234)}  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await guard(scope, receive, send)
        return sent

    async def scenario() -> None:
        first = asyncio.ensure_future(call())
        second = asyncio.ensure_future(call())
        await asyncio.sleep(0.01)
        refused = await call()  # a third while two are in flight
        start = refused[0]
        assert start["status"] == 503
        assert (b"retry-after", b"1") in start["headers"]
        assert b'"code":"UNAVAILABLE"' in refused[1]["body"]
        release.set()
        assert (await first)[0]["status"] == (await second)[0]["status"] == 200
        assert guard.in_flight == 0
        assert (await call())[0]["status"] == 200  # room again

    asyncio.run(scenario())
