"""The follower's fan-out: bounded subscriber queues, and read-your-writes waiters."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from exchange.core import OpenAccount, OrderStatus, OrderType, Side, TimeInForce
from exchange.engine.client import EngineBusyError, EngineClient
from exchange.engine.feed import BatchFeed
from exchange.engine.ports import free_ports
from exchange.gateway.follower import Follower
from exchange.views.order_view import ExchangeView, Report
from tests.curve import keys


def report(seq: int) -> Report:
    return Report(
        seq, "accepted", seq, f"c{seq}", "FOOLAD", Side.BUY, OrderType.LIMIT, TimeInForce.DAY,
        5_000, 10, OrderStatus.NEW, 0, 10, 0, 1, 1,
    )  # fmt: skip


def test_a_subscriber_that_falls_behind_is_cut_off_not_buffered(tmp_path: Path) -> None:
    async def scenario() -> None:
        (port,) = free_ports(1)
        feed = BatchFeed(
            f"tcp://127.0.0.1:{port}", tmp_path / "journal", keys=keys(tmp_path, "feed")
        )
        follower = Follower(feed, ExchangeView(), queue_capacity=2)
        try:
            slow = follower.subscribe(7)
            other = follower.subscribe(8)
            follower.fanout.publish([(7, report(seq)) for seq in (1, 2, 3)])
            assert slow.closed.is_set() and slow.queue.qsize() == 2
            assert follower.fanout.count(7) == 0
            assert follower.dropped_subscribers == 1
            assert not other.closed.is_set() and other.queue.empty()
            follower.unsubscribe(other)
            assert 8 not in follower.fanout.subscribers
            # A reader waiting for event 5 is released once the view passes it, not before.
            waiter = asyncio.ensure_future(follower.wait_for(5, timeout=5))
            await asyncio.sleep(0)
            follower._release(5)
            await asyncio.sleep(0)
            assert not waiter.done()
            follower._release(6)
            assert await waiter is True
            assert await follower.wait_for(50, timeout=0.01) is False
        finally:
            await follower.close()

    asyncio.run(scenario())


def test_the_engine_client_refuses_at_once_when_its_in_flight_cap_is_reached() -> None:
    async def scenario() -> None:
        (port,) = free_ports(1)  # nothing listens there: requests stay unanswered
        client = EngineClient(f"tcp://127.0.0.1:{port}", keys=keys(), timeout=5, deadline=5,
                              max_in_flight=1)  # fmt: skip
        try:
            pending = asyncio.ensure_future(client.submit(OpenAccount(owner="owner-1")))
            await asyncio.sleep(0.05)
            # Refused in its first step, before it awaits anything: never queued.
            second = client.submit(OpenAccount(owner="owner-2"))
            with pytest.raises(EngineBusyError):
                second.send(None)
            pending.cancel()
        finally:
            await client.close()

    asyncio.run(scenario())


def test_health_reports_a_follower_that_stopped(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    follower = client.app.state.gateway.follower  # type: ignore[attr-defined]
    task = follower._following._task
    assert task is not None
    task.get_loop().call_soon_threadsafe(task.cancel)
    for _ in range(100):
        if task.done():
            break
        time.sleep(0.01)
    unhealthy = client.get("/healthz")
    assert unhealthy.status_code == 503 and "not following" in unhealthy.json()["status"]
