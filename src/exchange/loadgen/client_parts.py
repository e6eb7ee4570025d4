"""`--processes N` over REST or FIX: each generator process drives 1/N of the users.

A process builds the plan of its users at 1/N of the rate (its own seed and
order-id tag), opens their WebSocket streams (REST) or FIX sessions, says
it is ready, and at the common start sends its plan open loop with the same
drivers as a single process (`drive_rest`, `drive_fix`). It reports its
recorder on the wire, its counts, and the CPU it used while driving: the
generator's own cost per request, which says whether it or the exchange
was the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from exchange.loadgen.fix_driver import connect_all, drive_fix
from exchange.loadgen.histograms import Recorder, to_wire
from exchange.loadgen.plan import Arrival, Kind, PlanConfig, Symbol, build_plan
from exchange.loadgen.rest_driver import DriveStats, drive_rest
from exchange.loadgen.streams import Streams, stream_counts
from exchange.loadgen.users import User
from exchange.loadgen.workers import Ready


@dataclass(frozen=True)
class ClientPart:
    protocol: str
    """"rest" or "fix"."""
    base: str
    """The gateway's URL (REST and streams)."""
    fix: tuple[str, int]
    users: list[User]
    symbols: list[Symbol]
    plan: PlanConfig
    connections: int
    timeout: float
    streams: bool


def event_loop_runner() -> asyncio.Runner:
    """uvloop when installed: the generator's own loop is cheaper than asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def drive_client_part(part: ClientPart, ready: Ready) -> dict[str, Any]:
    """A worker's whole job (module level: run in a spawned process)."""
    with event_loop_runner() as runner:
        return runner.run(_drive(part, ready))


async def _drive(part: ClientPart, ready: Ready) -> dict[str, Any]:
    from exchange.heap import quiet, settle

    plan = build_plan(part.plan, part.symbols)
    recorder = Recorder()
    extra: dict[str, Any] = {}
    streams: Streams | None = None
    if part.streams and part.protocol == "rest":
        streams = Streams(part.base.replace("http", "ws", 1), part.users)
        await streams.connect()
        for kind, count in streams.stats.failures.items():
            recorder.errors[f"stream_{kind}"] += count
    settle()
    if part.protocol == "fix":
        stats, cpu = await _fix(part, plan, recorder, ready, extra)
    else:
        await asyncio.to_thread(ready)
        cpu = time.process_time()
        with quiet():
            stats = await drive_rest(
                part.base, plan, part.users, recorder, connections=part.connections,
                timeout=part.timeout,
            )  # fmt: skip
        cpu = time.process_time() - cpu
    if streams is not None:
        await streams.settle()
        extra |= stream_counts(streams.stats)
        await streams.close()
    return {
        "recorder": to_wire(recorder),
        "sent": stats.sent,
        "answered": stats.answered,
        "elapsed": stats.elapsed,
        "cpu_seconds": cpu,
        "client_lag": stats.client_lag.percentiles_ms() if stats.client_lag else {},
        "mix": dict(Counter(a.kind.value for a in plan)),
        "market_orders": sum(1 for a in plan if a.kind is Kind.MARKET),
        "planned": len(plan),
        "extra": extra,
    }


async def _fix(
    part: ClientPart, plan: list[Arrival], recorder: Recorder, ready: Ready,
    extra: dict[str, Any],
) -> tuple[DriveStats, float]:  # fmt: skip
    """One session per user, logged on before the start; the plan through them."""
    stats = DriveStats()
    sessions = await connect_all(*part.fix, part.users, recorder, stats, lambda: None)
    await asyncio.to_thread(ready)
    cpu = time.process_time()
    try:
        await drive_fix(sessions, plan, stats, timeout=part.timeout)
        await asyncio.sleep(0.5)  # the last fills of resting orders
    finally:
        cpu = time.process_time() - cpu
        fills = [s.fills for s in sessions]
        for session in sessions:
            await session.close()
    extra["fix_fills_received"] = sum(fills)
    extra["fix_users_with_fills"] = sum(1 for f in fills if f)
    return stats, cpu


def merged_extra(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The processes' stream and session counts, added up."""
    total: Counter[str] = Counter()
    for result in results:
        total.update(result["extra"])
    return dict(total)
