"""The plan straight onto the engine's wire, batched, cheap enough to offer more than it takes.

Every request is encoded before the timed part; sending is then joining
the ones that are due into one message (at most `MAX_REQUESTS_PER_MESSAGE`,
the same batched wire `EngineClient` speaks: a list of `Request`s, answered
with a list of `Reply`s per engine batch). One plain DEALER socket and no
event loop: a future and a task per request would cost the generator more
CPU than the engine spends on the order, on the same cores.

Open loop (`window` None): requests leave at their scheduled times whether
or not earlier ones were answered, and each latency is measured from its
scheduled time, so queueing anywhere (the generator's own lateness too)
counts. Closed loop (`window` N): at most N requests in flight, each timed
from its sending, until `seconds` have passed: the engine's sustained
capacity. Completion times are kept in a list during the run and put into
histograms after it, so recording costs nothing while the engine is timed.
"""

from __future__ import annotations

import bisect
import time
from array import array
from dataclasses import dataclass, field

import zmq

from exchange.core.events import Fill, OrderRejected
from exchange.engine.curve import ClientKeys
from exchange.engine.protocol import MAX_REQUESTS_PER_MESSAGE, pack_list, replies_decoder
from exchange.loadgen.histograms import Recorder, Series
from exchange.loadgen.plan import Kind

LEAD = 0.2
"""Seconds between the start signal and the first scheduled request."""
KINDS = tuple(Kind)
"""A request's kind is stored as its index here (one byte per request)."""


@dataclass
class EngineLoad:
    """A process's share of the plan, ready to send: request `i` has id `i`."""

    at: array[float] = field(default_factory=lambda: array("d"))
    """Scheduled seconds after the start, ascending."""
    kinds: bytearray = field(default_factory=bytearray)
    frames: list[bytes] = field(default_factory=list)
    """Each `Request` encoded alone; a message is a msgpack array of several."""

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class EngineStats:
    sent: int = 0
    answered: int = 0
    elapsed: float = 0.0
    """From the first request sent to the last reply read."""
    fills: int = 0
    """Fill events in every reply: two per trade this process's orders made."""
    rejected: dict[str, int] = field(default_factory=dict)
    client_lag: Series = field(default_factory=Series)
    cpu_seconds: float = 0.0
    """This process's CPU over the timed part (sending, reading, decoding)."""
    messages_sent: int = 0


class EngineDriver:
    def __init__(self, endpoint: str, keys: ClientKeys, *, timeout: float = 10.0) -> None:
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SNDHWM, 0)  # a bench queues rather than drops
        self.socket.setsockopt(zmq.RCVHWM, 0)
        keys.apply(self.socket)
        self.socket.connect(endpoint)
        self.timeout = timeout

    def close(self) -> None:
        self.socket.close(linger=0)
        self.context.term()

    def drive(
        self, load: EngineLoad, recorder: Recorder, *, window: int | None = None,
        seconds: float = 0.0,
    ) -> EngineStats:  # fmt: skip
        """Send `load` (open loop, or closed with `window` for `seconds`); wait for the replies."""
        n = len(load)
        at, kinds, frames = load.at, load.kinds, load.frames
        done = array("d", bytes(8 * n))
        sent_at = at if window is None else array("d", bytes(8 * n))
        stats = EngineStats()
        market = bytearray(n)
        """1: a market or marketable order whose reply carried a fill."""
        takers = (KINDS.index(Kind.MARKET), KINDS.index(Kind.MARKETABLE))
        socket, decode, clock = self.socket, replies_decoder.decode, time.perf_counter
        send, recv = socket.send, socket.recv
        lags: list[float] = []
        cpu = time.process_time()
        start = clock() + LEAD
        sent = answered = fills = 0
        last_reply = clock()
        while answered < sent or sent < n:
            now = clock() - start
            if now < 0:
                time.sleep(-now)  # the common start (LEAD): other processes are starting too
                continue
            if window is None:
                due = bisect.bisect_right(at, now, sent) if sent < n else n
            elif now < seconds or seconds <= 0:
                due = min(n, answered + window)
            else:
                n = sent  # time is up: what was not sent is not part of the run
                due = sent
            if due > sent:
                lags.append(now - (at[sent] if window is None else now))
                if window is not None:
                    for i in range(sent, due):
                        sent_at[i] = now
                for first in range(sent, due, MAX_REQUESTS_PER_MESSAGE):
                    last = min(due, first + MAX_REQUESTS_PER_MESSAGE)
                    send(pack_list(frames[first:last]), copy=False)
                    stats.messages_sent += 1
                sent = due
            got = False
            while True:
                try:
                    frame = recv(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                got = True
                t = clock() - start
                for reply in decode(frame.buffer):
                    i = reply.request_id
                    done[i] = t
                    answered += 1
                    events = reply.events
                    for event in events:
                        if type(event) is Fill:
                            fills += 1
                            if kinds[i] in takers:
                                market[i] = 1
                        elif isinstance(event, OrderRejected):
                            name = f"reject_{event.reason.name}"
                            stats.rejected[name] = stats.rejected.get(name, 0) + 1
            if got:
                last_reply = clock()
                continue
            if answered < sent and clock() - last_reply > self.timeout:
                break  # the rest is lost: counted below
            if window is None and sent < n:
                wait = at[sent] - (clock() - start)
                if wait >= 0.001:
                    socket.poll(int(wait * 1000), zmq.POLLIN)
                elif wait > 0:
                    time.sleep(min(wait, 0.0001))
            elif answered < sent:
                socket.poll(1, zmq.POLLIN)
        stats.cpu_seconds = time.process_time() - cpu
        stats.elapsed = max(clock() - start - (at[0] if window is None and n else 0.0), 1e-9)
        stats.sent, stats.answered, stats.fills = sent, answered, fills
        for value in lags:
            stats.client_lag.record(max(0.0, value))
        _record(recorder, load, sent, done, sent_at, market)
        if answered < sent:
            recorder.errors["timeout"] += sent - answered
        return stats


def _record(
    recorder: Recorder, load: EngineLoad, sent: int, done: array[float], sent_at: array[float],
    market: bytearray,
) -> None:  # fmt: skip
    """After the run: every answered request into its series (timed from `sent_at`)."""
    kinds = load.kinds
    names = [kind.value for kind in KINDS]
    cancel = KINDS.index(Kind.CANCEL)
    takers = (KINDS.index(Kind.MARKET), KINDS.index(Kind.MARKETABLE))
    for i in range(sent):
        finished = done[i]
        if finished == 0.0:
            continue
        when = sent_at[i]  # the scheduled time (open loop) or the sending (closed)
        elapsed = finished - when
        kind = kinds[i]
        if kind == cancel:
            recorder.record("cancel", when, elapsed)
            continue
        recorder.record("order", when, elapsed)
        if kind in takers:
            if market[i]:
                recorder.record(names[kind], when, elapsed)
            else:
                recorder.outcome(f"{names[kind]}_unfilled")
