"""GET /v1/stream: a WebSocket of the caller's execution reports, resumable by sequence.

The first message says which account is streamed and whether the resume
is complete: `{"type": "subscribed", "accountId", "since", "complete"}`;
`complete` is false when reports after `since` are no longer retained (read
GET /v1/orders then). Then every report after `since`, oldest first, then
live reports as they happen, each with its `seq`. A client that falls
behind by the queue's capacity is closed with code 1013 and resumes with
the last `seq` it saw.
"""

import asyncio
import contextlib
import time

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from exchange.accounts.tokens import Claims
from exchange.gateway.http import bearer_token, choose_account, gateway_of, int_param, verify
from exchange.gateway.render import report_out
from exchange.views.fanout import Subscriber
from exchange.views.order_view import Report
from exchange.web.errors import ApiError

_ALLOWED = frozenset({"since", "accountId", "access_token"})
_json = msgspec.json.Encoder()
POLICY_VIOLATION = 1008
WATCH_SECONDS = 0.25
"""How often a stream checks its token's expiry and its credential's revocation."""
TRY_AGAIN_LATER = 1013


class Subscribed(msgspec.Struct, rename="camel"):
    type: str
    account_id: int
    since: int
    complete: bool


async def stream(websocket: WebSocket) -> None:
    gateway = gateway_of(websocket)
    params = websocket.query_params
    try:
        unknown = set(params) - _ALLOWED
        if unknown:
            raise ApiError(422, f"unknown query parameters: {', '.join(sorted(unknown))[:100]}")
        claims = verify(websocket, bearer_token(websocket) or params.get("access_token"), "read")
        raw_account = params.get("accountId")
        requested = (
            None if raw_account is None else int_param(raw_account, "accountId", 0, 1, 2**53)
        )
        account = gateway.serving(choose_account(claims, requested))
        since = int_param(params.get("since"), "since", 0, 0, 2**62)
    except ApiError as error:
        await websocket.close(POLICY_VIOLATION, f"{error.status} {error.message}"[:120])
        return
    follower = gateway.follow
    if follower.fanout.count(account) >= gateway.config.limits.max_streams_per_account:
        await websocket.close(TRY_AGAIN_LATER, "too many streams for this account")
        return
    # Subscribed with no await since the count: concurrent connects cannot all pass the cap
    # (review L3); and before reading the backlog, so nothing falls between the two.
    subscriber = follower.subscribe(account)
    gateway.metrics.streams.inc()
    try:
        await websocket.accept()
        backlog, complete = follower.fanout.backlog((account,), since)
        await websocket.send_bytes(_json.encode(Subscribed("subscribed", account, since, complete)))
        sender = asyncio.ensure_future(_send(websocket, subscriber, backlog, since))
        reader = asyncio.ensure_future(_until_closed(websocket))
        watcher = asyncio.ensure_future(_until_withdrawn(websocket, claims))
        _, pending = await asyncio.wait(
            {sender, reader, watcher}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
    finally:
        follower.unsubscribe(subscriber)
        gateway.metrics.streams.dec()
        gateway.metrics.streams_dropped.set(follower.dropped_subscribers)


async def _send(
    websocket: WebSocket, subscriber: Subscriber, backlog: list[Report], since: int
) -> None:
    last = since
    for report in backlog:
        await websocket.send_bytes(_json.encode(report_out(report)))
        last = report.seq
    queue = subscriber.queue
    while True:
        if queue.empty() and subscriber.closed.is_set():
            await websocket.close(TRY_AGAIN_LATER, f"too far behind: resume with since={last}")
            return
        report = await queue.get()
        if report.seq > last:
            await websocket.send_bytes(_json.encode(report_out(report)))
            last = report.seq


async def _until_withdrawn(websocket: WebSocket, claims: Claims) -> None:
    """Close the stream when its token expires or its credential is revoked (review H5, L3):
    a stream lasts no longer than the access it was opened with."""
    gateway = gateway_of(websocket)
    while True:
        if claims.client_id in gateway.revoked:
            await websocket.close(POLICY_VIOLATION, "the credential was revoked")
            return
        if time.time() >= claims.expires_at:
            await websocket.close(POLICY_VIOLATION, "the token expired: reconnect with a new one")
            return
        await asyncio.sleep(WATCH_SECONDS)


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
