"""Security review L6: one limiter key per client, IPv6 aggregated to its /64."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from exchange.accounts import new_signing_key
from exchange.gateway import GatewayConfig, Limits
from exchange.gateway.middleware import GuardMiddleware
from exchange.gateway.resources import Gateway
from exchange.marketdata.access import AccessLists
from exchange.marketdata.guard import Guard
from exchange.web.clientkey import client_key
from exchange.web.concurrency import ConnectionLimiter
from tests import migrated
from tests.curve import key_directory


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # IPv4-mapped: the IPv4 address's key
        ("unknown", "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_client_key(host: str, key: str) -> None:
    assert client_key(host) == key


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def status_from(app: Any, host: str) -> int:
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "client": (host, 1)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status: int = sent[0]["status"]
    return status


def gateway_guard(tmp_path: Path) -> GuardMiddleware:
    config = GatewayConfig(
        db_url=migrated.accounts_db(f"sqlite:///{tmp_path / 'a.db'}"),
        engine_endpoint="tcp://127.0.0.1:1",
        signing_key=new_signing_key(),
        journal=tmp_path / "journal",
        keys_dir=key_directory(tmp_path).path,  # no engine here, but keys to start with
        limits=Limits(per_ip_rate=0.001, per_ip_burst=2),
    )
    return GuardMiddleware(ok_app, Gateway(config))


def marketdata_guard(tmp_path: Path) -> Guard:
    return Guard(ok_app, access=AccessLists(None, None), connections=ConnectionLimiter(20),
                 rate=0.001, burst=2)  # fmt: skip


@pytest.mark.parametrize("make", [gateway_guard, marketdata_guard])
def test_l6_ipv6_slash64_shares_bucket(tmp_path: Path, make: Any) -> None:
    guard = make(tmp_path)
    assert status_from(guard, "2001:db8:0:1::1") == 200
    assert status_from(guard, "2001:db8:0:1::2") == 200
    # Another address of the same /64 is the same client: its bucket is empty.
    assert status_from(guard, "2001:db8:0:1:ffff:ffff:ffff:fffe") == 429
    # Another /64 is another client.
    assert status_from(guard, "2001:db8:0:2::1") == 200
