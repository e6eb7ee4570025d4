"""The engine client gateways use: submit a command, await its durable result.

ZeroMQ reconnects by itself. A request that is not answered in `timeout`
seconds is sent again, with the same request id, until `deadline`; this is
safe because entry is idempotent in the core (a repeated client order id
returns the original order, a repeated deposit reference changes nothing).
A late reply to an earlier attempt answers the request just the same.

`endpoint` may list several engines, comma-separated (a cluster's nodes):
only the leader binds its request endpoint, and with ZMQ_IMMEDIATE a
request goes only to a peer that is connected, so requests reach the
leader and, after a takeover, the new one. (With one engine, requests
queue for it while it restarts, which makes a takeover on one machine
faster.) Sending never waits: a request that could not be sent is sent
again at the next timeout.

Requests made in one turn of the event loop go to the engine in one
message (`_flush`, scheduled with `call_soon` by the first of them), and
the engine answers each of its batches with one message: under load a
gateway sends and receives one message per turn instead of one per order.

Timeouts are kept by one sweeper task that looks at the requests in flight
when the earliest falls due, not by a timer per request: a timer, a shield and a
wait_for per request showed in the gateway's profile under load (about 3 %),
and one task does the same for all of them.
"""

import asyncio
import contextlib
import itertools
import logging
import os
from typing import Any, Final

import msgspec
import zmq
import zmq.asyncio

from exchange.core import OpenAccount, RequestCommand
from exchange.core.events import opened_account
from exchange.engine.curve import ClientKeys
from exchange.engine.protocol import (
    MAX_REQUESTS_PER_MESSAGE,
    Reply,
    Request,
    is_list,
    replies_decoder,
    reply_decoder,
    requests_encoder,
)
from exchange.engine.queries import AccountQuery, AccountState, Query

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 0.5
DEFAULT_DEADLINE: Final = 30.0


def split_endpoints(endpoints: str) -> list[str]:
    """ "tcp://a:1,tcp://b:2" -> each address (one engine, or a cluster's nodes)."""
    return [address.strip() for address in endpoints.split(",") if address.strip()]


class EngineUnavailableError(Exception):
    """The engine did not answer before the deadline (the caller should answer 503)."""


class EngineBusyError(EngineUnavailableError):
    """`max_in_flight` requests are already waiting: refused at once, never queued."""


def _retrieve(future: "asyncio.Future[Any]") -> None:
    if not future.cancelled():
        future.exception()


class _InFlight:
    """A request waiting for its reply: what it sent, and when to resend or give up."""

    __slots__ = ("future", "give_up", "request", "resend_at")

    def __init__(
        self, request: Request, future: "asyncio.Future[Reply]", resend_at: float, give_up: float
    ) -> None:
        self.request = request
        self.future = future
        self.resend_at = resend_at
        self.give_up = give_up


class EngineClient:
    def __init__(
        self,
        endpoint: str = "tcp://127.0.0.1:5555",
        *,
        keys: ClientKeys,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_in_flight: int = 10_000,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.deadline = deadline
        self.context = zmq.asyncio.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RECONNECT_IVL, 50)
        self.socket.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
        keys.apply(self.socket)  # CURVE: our role's key, and the engine's pinned (C1)
        addresses = split_endpoints(endpoint)
        self._cluster = len(addresses) > 1
        if self._cluster:  # queue nothing for a node that is not leading
            self.socket.setsockopt(zmq.IMMEDIATE, 1)
        self._monitor: zmq.asyncio.Socket | None = None
        self._watcher: asyncio.Task[None] | None = None
        for address in addresses:
            self.socket.connect(address)
        # Request ids are unique per client process and start: pid + a counter.
        self._ids = itertools.count((os.getpid() << 32) + 1)
        self._pending: dict[int, _InFlight] = {}
        """Requests in flight by id; what each sent is sent again when a (new) leader connects."""
        self.max_in_flight = max_in_flight
        self._reader: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._outbox: list[Request] = []
        """Requests of this turn of the event loop, sent together at its end (`_flush`)."""
        self._flush_scheduled = False
        self.messages_sent = 0
        """Messages sent to the engine (requests / messages: how well sends are gathered)."""
        self.resends = 0
        """Requests sent again after a timeout (a gauge of engine restarts and stalls)."""

    async def _read(self) -> None:
        pending = self._pending
        while True:
            frame = await self.socket.recv()
            try:
                replies = (
                    replies_decoder.decode(frame)
                    if is_list(frame)
                    else [reply_decoder.decode(frame)]
                )
            except msgspec.DecodeError:
                log.warning("undecodable reply from %s dropped", self.endpoint)
                continue
            for reply in replies:
                waiting = pending.get(reply.request_id)
                if waiting is not None and not waiting.future.done():
                    waiting.future.set_result(reply)

    async def _sweep(self) -> None:
        """Resend what is unanswered after `timeout`; fail what is unanswered at `deadline`.

        Each pass sleeps until the earliest request falls due (a takeover's
        first resend is not late), at least `timeout / 20` and at most
        `timeout / 4`: a request sent after a pass falls due `timeout` later.
        """
        loop = asyncio.get_running_loop()
        shortest, longest = self.timeout / 20, self.timeout / 4
        pause = longest
        while True:
            await asyncio.sleep(pause)
            now = loop.time()
            due = now + longest
            for waiting in list(self._pending.values()):
                if waiting.future.done():
                    continue
                if now >= waiting.give_up:
                    waiting.future.set_exception(
                        EngineUnavailableError(
                            f"no answer from {self.endpoint} in {self.deadline} s"
                        )
                    )
                    continue
                if now >= waiting.resend_at:
                    self.resends += 1
                    waiting.resend_at = now + self.timeout
                    self._enqueue(waiting.request)
                due = min(due, waiting.resend_at, waiting.give_up)
            pause = min(max(due - loop.time(), shortest), longest)

    def _enqueue(self, request: Request) -> None:
        """Send `request` with the others of this turn: one message for all of them."""
        self._outbox.append(request)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        outbox, self._outbox = self._outbox, []
        for start in range(0, len(outbox), MAX_REQUESTS_PER_MESSAGE):
            self._send(requests_encoder.encode(outbox[start : start + MAX_REQUESTS_PER_MESSAGE]))

    def _send(self, frame: bytes) -> None:
        """Never wait to send: with no engine connected, the sweeper sends it again.

        A non-blocking send on the asyncio socket completes at once; a refusal
        (zmq.Again) is left in the returned future, which is read here so that
        it is not reported as never retrieved.
        """
        self.messages_sent += 1
        sent = asyncio.ensure_future(self.socket.send(frame, flags=zmq.NOBLOCK))
        if sent.done():
            sent.exception()
        else:
            sent.add_done_callback(_retrieve)

    def _ensure_reader(self) -> None:
        if self._reader is None:
            loop = asyncio.get_running_loop()
            self._reader = loop.create_task(self._read())
            self._sweeper = loop.create_task(self._sweep())
            if self._cluster:
                self._monitor = self.socket.get_monitor_socket(zmq.EVENT_CONNECTED)
                self._watcher = loop.create_task(self._resend_on_connect())

    async def _resend_on_connect(self) -> None:
        """A node just accepted us: after a takeover, that is the new leader. Resend at once."""
        assert self._monitor is not None
        while True:
            await self._monitor.recv_multipart()
            for waiting in list(self._pending.values()):
                self._enqueue(waiting.request)

    async def submit(self, command: RequestCommand) -> Reply:
        """Send `command` and return the engine's reply once the command is durable."""
        return await self._call(command)

    async def open_account(self, owner: str) -> int:
        """Open an account for `owner` (a unique reference): the id the engine gave it.

        The same owner again gets the same account back (a retry), never a new one.
        Raises ValueError when the engine refused (an owner that is not an identifier).
        """
        reply = await self.submit(OpenAccount(owner=owner))
        account = opened_account(reply.events, owner)
        if account is None:
            raise ValueError(f"the engine opened no account for {owner!r}: {reply.events}")
        return account

    async def account(self, account: int) -> AccountState | None:
        """The account's balances as of the last durable batch (None: no such account)."""
        return (await self._call(AccountQuery(account))).state

    async def _call(self, command: RequestCommand | Query) -> Reply:
        self._ensure_reader()
        request_id = next(self._ids)
        request = Request(request_id, command)
        loop = asyncio.get_running_loop()
        if len(self._pending) >= self.max_in_flight:
            raise EngineBusyError(f"{self.max_in_flight} requests already in flight")
        now = loop.time()
        waiting = _InFlight(request, loop.create_future(), now + self.timeout, now + self.deadline)
        self._pending[request_id] = waiting
        try:
            self._enqueue(request)
            return await waiting.future
        finally:
            del self._pending[request_id]

    async def close(self) -> None:
        """Stop; whoever still waits for a reply gets EngineUnavailableError, not silence."""
        for waiting in self._pending.values():
            if not waiting.future.done():
                waiting.future.set_exception(EngineUnavailableError("the engine client closed"))
        for task in (self._reader, self._sweeper, self._watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._monitor is not None:
            self.socket.disable_monitor()
            self._monitor.close(linger=0)
        self.socket.close(linger=0)
        self.context.destroy(linger=0)
