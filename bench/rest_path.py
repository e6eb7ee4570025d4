"""CPU per request of the gateway's own HTTP path, in process, without sockets or an engine.

Why: on a shared 2-core box, `exchange bench` moves by 20-50 % from one run
to the next; this drives the ASGI application directly, so what it measures
is only the per-request work of the application: the guard (per-IP bucket,
caps, metrics), routing, token verification (cached), the body's decoding,
the per-credential and per-account buckets and the command's construction,
up to the engine call (no engine runs here: the call is answered 503 at
once). Two paths for the same POST /v1/order: the application as built
(`create_app`: with the fast path), and the Starlette stack the fast path
replaced (the same Starlette app behind the same guard). Run it with an older
build on PYTHONPATH to compare builds.

    .venv/bin/python bench/rest_path.py --requests 20000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from exchange.accounts import new_signing_key
from exchange.config import ExchangeConfig, updated
from exchange.gateway import GatewayConfig, Limits, create_app
from exchange.gateway.middleware import GuardMiddleware
from exchange.services import migrate

UNLIMITED = math.inf


def _app(data_dir: Path) -> Any:
    config = updated(ExchangeConfig(), {"data_dir": str(data_dir)})
    migrate(config)
    limits = Limits(
        per_ip_rate=UNLIMITED, per_client_rate=UNLIMITED, orders_per_account_rate=UNLIMITED
    )
    return create_app(
        GatewayConfig(
            db_url=config.accounts_url,
            engine_endpoint="tcp://127.0.0.1:1",
            signing_key=new_signing_key(),
            journal=config.journal_dir,
            limits=limits,
        )
    )


async def _drive(app: Any, token: str, requests: int) -> float:
    """CPU seconds per request for `requests` POST /v1/order through `app`."""
    body = msgspec.json.encode(
        {"symbol": "FOOLAD", "side": "buy", "type": "market", "quantity": 100}
    )
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def scope() -> dict[str, Any]:
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/v1/order", "raw_path": b"/v1/order",
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080),
        }  # fmt: skip

    started = time.process_time()
    for _ in range(requests):
        await app(scope(), receive, send)
    spent = time.process_time() - started
    assert set(statuses) == {503}, set(statuses)  # refused at the engine call: the whole path ran
    return spent / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        built = _app(Path(tmp))
        gateway = built.state.gateway
        token, _ = gateway.issuer.issue("bench", frozenset({"trade"}), (1,), int(time.time()))
        apps = {"as built": built}
        if hasattr(built, "app"):  # a build with the fast path: the stack it replaced, too
            apps["starlette"] = GuardMiddleware(built.app, gateway)
        results: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(args.runs):  # alternating, in one process
            for name, app in apps.items():
                per = asyncio.run(_drive(app, token, args.requests))
                results[name].append(per * 1e6)
    for name, runs in results.items():
        shown = " / ".join(f"{r:.1f}" for r in runs)
        print(f"{name:10s} {statistics.median(runs):7.1f} us CPU per request ({shown})")


if __name__ == "__main__":
    main()
