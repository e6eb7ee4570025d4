"""The plan over FIX 4.4 to `exchange fix`: one session per user, open loop.

Each user logs on with its own credential (SenderCompID = clientId,
Password 554 = clientSecret, ResetSeqNumFlag) and sends its arrivals as
NewOrderSingle (D) and OrderCancelRequest (F, by OrigClOrdID) at their
scheduled times. A request is answered by its first ExecutionReport (New
for a passive order, Canceled or OrderCancelReject for a cancel); a market
or marketable order's round trip ends with its first fill report (ExecType
F), measured from the scheduled arrival. Fills of resting orders count
towards the user's fills as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from exchange.fix.codec import Framer, Message, encode, parse, timestamp
from exchange.loadgen.histograms import Recorder, Series
from exchange.loadgen.plan import Arrival, Kind
from exchange.loadgen.rest_driver import LEAD, DriveStats
from exchange.loadgen.users import User

TARGET = "EXCHANGE"
SIDES = {"buy": "1", "sell": "2"}
TIF = {"day": "0", "gtc": "1", "ioc": "3", "fok": "4"}
Body = list[tuple[int, str | int]]
THROTTLED = "too many logons"
"""How the acceptor's Logout begins when it throttles logons per address (review H1)."""
LOGON_RETRY = 0.25


@dataclass
class FixSession:
    """One user's FIX session: its socket, its sequence numbers and what it awaits."""

    user: User
    recorder: Recorder
    stats: DriveStats
    done: Callable[[], None]
    seq: int = 1
    fills: int = 0
    reports: int = 0
    pending: dict[str, tuple[Arrival, float]] = field(default_factory=dict)
    cancel_of: dict[str, str] = field(default_factory=dict)
    """The ClOrdID of an order -> that of the request canceling it (a Canceled report may carry
    either: the order's own when the acceptor had not seen the order when the cancel came)."""
    logged_on: asyncio.Future[bool] | None = None
    refused: str | None = None
    """The Text of a Logout answering the Logon."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    task: asyncio.Task[None] | None = None

    async def connect(self, host: str, port: int, timeout: float) -> bool:
        """Log on; a logon the acceptor throttles or a connection it drops before the logon
        (one address logs every session on here: review H1 and M3 limit that) is tried
        again on a new connection after a pause, until `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if await self._connect_once(host, port, max(0.1, deadline - loop.time())):
                return True
            throttled = self.refused is None or self.refused.startswith(THROTTLED)
            await self.close()
            if not throttled or loop.time() + LOGON_RETRY > deadline:
                return False
            await asyncio.sleep(LOGON_RETRY)

    async def _connect_once(self, host: str, port: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        self.logged_on = loop.create_future()
        self.refused = None
        self.seq = 1
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self.send("A", [(98, 0), (108, 30), (554, self.user.client_secret), (141, "Y")])
        self.task = asyncio.ensure_future(self._read())
        try:
            return await asyncio.wait_for(self.logged_on, timeout)
        except TimeoutError:
            return False

    def send(self, kind: str, body: Body) -> None:
        assert self.writer is not None
        self.writer.write(encode(kind, self.user.client_id, TARGET, self.seq, body))
        self.seq += 1

    def submit(self, arrival: Arrival, due: float) -> None:
        self.pending[arrival.client_order_id] = (arrival, due)
        side = SIDES[arrival.side]
        if arrival.kind is Kind.CANCEL:
            self.cancel_of[_target_id(arrival)] = arrival.client_order_id
            body: Body = [(11, arrival.client_order_id), (41, _target_id(arrival)),
                          (55, arrival.symbol), (54, side), (38, arrival.quantity),
                          (60, timestamp())]  # fmt: skip
            self.send("F", body)
            return
        body = [(11, arrival.client_order_id), (55, arrival.symbol), (54, side),
                (38, arrival.quantity), (40, "1" if arrival.kind is Kind.MARKET else "2"),
                (59, TIF[arrival.time_in_force]), (60, timestamp())]  # fmt: skip
        if arrival.kind is not Kind.MARKET:
            body.append((44, arrival.price))
        self.send("D", body)

    def answered(self, client_order_id: str) -> None:
        self.pending.pop(client_order_id, None)
        self.stats.answered += 1
        self.stats.last_answer = asyncio.get_running_loop().time()
        self.done()

    async def _read(self) -> None:
        assert self.reader is not None
        framer = Framer()
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for frame in framer.feed(data):
                    self._handle(parse(frame))
        if self.logged_on is not None and not self.logged_on.done():
            self.logged_on.set_result(False)

    def _handle(self, message: Message) -> None:
        kind = message.msg_type
        if kind == "8":
            self._report(message)
        elif kind == "9":
            self._cancel_reject(message)
        elif kind == "A":
            if self.logged_on is not None and not self.logged_on.done():
                self.logged_on.set_result(True)
        elif kind == "1":
            self.send("0", [(112, message.get(112) or "")])
        elif kind in ("3", "j"):
            self.recorder.error(f"fix_{kind}_{(message.get(58) or '')[:40]}")
        elif kind == "5" and self.logged_on is not None and not self.logged_on.done():
            self.refused = message.get(58) or ""
            self.logged_on.set_result(False)
        elif kind == "5":
            self.recorder.error(f"fix_logout_{(message.get(58) or '')[:40]}")

    def _report(self, message: Message) -> None:
        loop_time = asyncio.get_running_loop().time()
        exec_type = message.get(150)
        client_order_id = message.get(11) or ""
        self.reports += 1
        if exec_type == "F":
            self.fills += 1
        if exec_type == "4" and client_order_id in self.cancel_of:
            client_order_id = self.cancel_of.pop(client_order_id)
        waiting = self.pending.get(client_order_id)
        if waiting is None:
            return  # a fill of a resting order, or a report from an earlier run
        arrival, due = waiting
        elapsed = loop_time - due
        recorder = self.recorder
        if exec_type == "8":
            recorder.error(f"reject_{message.get(58)}")
            self.answered(client_order_id)
        elif arrival.kind is Kind.CANCEL:
            if exec_type == "4":
                recorder.record("cancel", arrival.at, elapsed)
                self.answered(client_order_id)
        elif exec_type == "0":
            recorder.record("order", arrival.at, elapsed)
            if arrival.kind is Kind.PASSIVE:
                self.answered(client_order_id)
        elif exec_type == "F":
            recorder.record(arrival.kind.value, arrival.at, elapsed)
            self.answered(client_order_id)
        elif exec_type in ("4", "C"):
            recorder.outcome(f"{arrival.kind}_unfilled")
            self.answered(client_order_id)

    def _cancel_reject(self, message: Message) -> None:
        client_order_id = message.get(11) or ""
        waiting = self.pending.get(client_order_id)
        if waiting is None:
            return
        arrival, due = waiting
        self.recorder.record("cancel", arrival.at, asyncio.get_running_loop().time() - due)
        reason = message.get(58) or ""
        self.recorder.outcome(
            "cancel_too_late" if reason == "ORDER_FINAL" else f"cancel_rejected_{reason}"
        )
        self.answered(client_order_id)

    async def close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.send("5", [])
                await self.writer.drain()
                self.writer.close()
            self.writer = None
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


def _target_id(arrival: Arrival) -> str:
    """The ClOrdID of the order a cancel names (ids are '<tag>-<n>')."""
    tag = arrival.client_order_id.rsplit("-", 1)[0]
    return f"{tag}-{arrival.target}"


async def connect_all(
    host: str,
    port: int,
    users: Sequence[User],
    recorder: Recorder,
    stats: DriveStats,
    done: Callable[[], None],
    *,
    concurrency: int = 50,
    timeout: float = 30.0,
) -> list[FixSession]:
    """Log every user's session on; a failed logon is counted as an error."""
    sessions = [FixSession(u, recorder, stats, done) for u in users]
    gate = asyncio.Semaphore(concurrency)

    async def one(session: FixSession) -> None:
        async with gate:
            try:
                if not await session.connect(host, port, timeout):
                    recorder.error("fix_logon_failed")
            except OSError as error:
                recorder.error(f"connection_{type(error).__name__}")

    await asyncio.gather(*(one(s) for s in sessions))
    return sessions


async def drive_fix(
    sessions: Sequence[FixSession],
    plan: Sequence[Arrival],
    stats: DriveStats,
    *,
    timeout: float = 10.0,
) -> DriveStats:
    """Send the plan at its scheduled times; wait up to `timeout` s for the last answers."""
    loop = asyncio.get_running_loop()
    stats.client_lag = lag = Series()
    stats.started = start = loop.time() + LEAD
    for arrival in plan:
        due = start + arrival.at
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lag.record(max(0.0, loop.time() - due))
        session = sessions[arrival.user]
        if session.writer is None or session.writer.is_closing():
            session.recorder.error("no_session")
            continue
        session.submit(arrival, due)
        stats.sent += 1
    deadline = loop.time() + timeout
    while any(s.pending for s in sessions) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    for session in sessions:
        for client_order_id, (arrival, _) in list(session.pending.items()):
            session.recorder.error(f"timeout_{arrival.kind}")
            session.answered(client_order_id)
    return stats
