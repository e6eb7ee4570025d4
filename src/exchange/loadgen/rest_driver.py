"""The plan over REST: POST /v1/order and DELETE /v1/order/{id}, open loop, over many connections.

A dispatcher releases each arrival at its scheduled time whether or not
earlier requests have been answered; every latency is measured from that
scheduled time, so queueing anywhere (the generator's own loop included)
counts. The dispatcher's own lateness is recorded too ("client_lag"), so a
saturated generator is told apart from a slow exchange. A market order's
round trip ends with its response, which carries its fills. Requests are
bytes built before the run, sent on a bounded pool of keep-alive
connections (http_client.py: a fraction of aiohttp's CPU per request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import msgspec

from exchange.loadgen.histograms import Recorder, Series
from exchange.loadgen.http_client import Pool
from exchange.loadgen.plan import Arrival, Kind
from exchange.loadgen.users import User

LEAD = 0.5
"""Seconds between building the schedule and the first arrival."""


@dataclass
class DriveStats:
    sent: int = 0
    answered: int = 0
    started: float = 0.0
    """Loop time of the run's second 0."""
    last_answer: float = 0.0
    client_lag: Series | None = None

    @property
    def elapsed(self) -> float:
        return max(self.last_answer - self.started, 1e-9)


def body_of(arrival: Arrival) -> bytes:
    order: dict[str, object] = {
        "symbol": arrival.symbol, "side": arrival.side,
        "type": "market" if arrival.kind is Kind.MARKET else "limit",
        "quantity": arrival.quantity, "timeInForce": arrival.time_in_force,
        "clientOrderId": arrival.client_order_id,
    }  # fmt: skip
    if arrival.kind is not Kind.MARKET:
        order["price"] = arrival.price
    return msgspec.json.encode(order)


def _error_kind(status: int, raw: bytes) -> str:
    try:
        code = msgspec.json.decode(raw)["error"]["code"]
    except (msgspec.DecodeError, KeyError, TypeError):
        code = ""
    return f"http_{status}_{code}" if code else f"http_{status}"


async def drive_rest(
    base: str,
    plan: Sequence[Arrival],
    users: Sequence[User],
    recorder: Recorder,
    *,
    connections: int = 256,
    timeout: float = 10.0,
    done: Callable[[], None] = lambda: None,
) -> DriveStats:
    """Send the whole plan; returns once every request is answered or has failed."""
    address = urlsplit(base)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    heads = [f"Host: {host}:{port}\r\nAuthorization: Bearer {u.token}\r\n".encode() for u in users]
    requests = [b"" if a.kind is Kind.CANCEL else post(heads[a.user], body_of(a)) for a in plan]
    resting: dict[int, asyncio.Future[int | None]] = {}
    stats = DriveStats(client_lag=Series())
    loop = asyncio.get_running_loop()
    decode = msgspec.json.decode
    http = Pool(host, port, connections)
    try:

        async def cancel(arrival: Arrival, due: float) -> None:
            target = resting.get(arrival.target)
            order_id = await target if target is not None else None
            if order_id is None:
                recorder.outcome("cancel_of_order_not_resting")
                return
            status, raw = await http.request(
                b"DELETE /v1/order/%d HTTP/1.1\r\n%sContent-Length: 0\r\n\r\n"
                % (order_id, heads[arrival.user])
            )
            recorder.record("cancel", arrival.at, loop.time() - due)
            if status == 409:
                recorder.outcome("cancel_too_late")
            elif status != 200:
                recorder.error(_error_kind(status, raw))

        async def place(arrival: Arrival, due: float) -> None:
            future = resting.get(arrival.n)
            try:
                status, raw = await http.request(requests[arrival.n])
                elapsed = loop.time() - due
                if status != 200:
                    recorder.error(_error_kind(status, raw))
                    return
                order = decode(raw)
                recorder.record("order", arrival.at, elapsed)
                outcome = order["status"]
                if outcome == "rejected":
                    recorder.error(f"reject_{order.get('rejectReason')}")
                    return
                if future is not None and outcome in ("new", "partially_filled"):
                    future.set_result(int(order["id"]))
                if arrival.kind in (Kind.MARKET, Kind.MARKETABLE):
                    if order["executions"]:
                        recorder.record(arrival.kind.value, arrival.at, elapsed)
                    else:
                        recorder.outcome(f"{arrival.kind}_unfilled_{order.get('cancelReason')}")
            finally:
                if future is not None and not future.done():
                    future.set_result(None)

        async def one(arrival: Arrival, due: float) -> None:
            try:
                async with asyncio.timeout(timeout):
                    if arrival.kind is Kind.CANCEL:
                        await cancel(arrival, due)
                    else:
                        await place(arrival, due)
            except TimeoutError:
                recorder.error(f"timeout_{arrival.kind}")
            except OSError as error:  # ConnectionError and refusals
                recorder.error(f"connection_{type(error).__name__}")
            finally:
                stats.answered += 1
                stats.last_answer = loop.time()
                done()

        tasks: set[asyncio.Task[None]] = set()
        stats.started = start = loop.time() + LEAD
        lag = stats.client_lag
        assert lag is not None
        for arrival in plan:
            due = start + arrival.at
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lag.record(max(0.0, loop.time() - due))
            if arrival.kind is Kind.PASSIVE:
                resting[arrival.n] = loop.create_future()
            task = asyncio.ensure_future(one(arrival, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            stats.sent += 1
        while tasks:
            await asyncio.gather(*list(tasks))
    finally:
        http.close()
    return stats


def post(head: bytes, body: bytes) -> bytes:
    """POST /v1/order with `head` (Host and Authorization lines) and a JSON body."""
    json = b"Content-Type: application/json\r\n"
    return b"POST /v1/order HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n%s" % (
        head, json, len(body), body,
    )  # fmt: skip
