"""`exchange bench --protocol engine`: the plan straight to the engine, from N processes.

The engine's own capacity, with no gateway in front: users and makers are
opened and funded with the admin's key (what the gateway's approval and
deposits do), the makers rest their liquidity, then `--processes` workers
each take 1/N of the users and of the rate, build their share of the plan
(the same mix as over REST), encode it, start together and send it over
the batched wire with the trading role's key (`engine_driver`). After the
run the engine stops and its journal is replayed (`outcome`): the run
counts only if the state the engine reached is the replay's.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.config import ExchangeConfig
from exchange.core import Deposit, RequestCommand
from exchange.engine.client import EngineClient
from exchange.engine.curve import ClientKeys, KeyDirectory
from exchange.engine.protocol import Request, request_encoder
from exchange.loadgen import outcome, processes, summary
from exchange.loadgen.bench_config import BenchConfig
from exchange.loadgen.engine_driver import KINDS, EngineDriver, EngineLoad
from exchange.loadgen.engine_orders import command_of, maker_commands, symbol_of
from exchange.loadgen.histograms import Recorder, Series, merge, to_wire
from exchange.loadgen.plan import Kind, Mix, PlanConfig, Symbol, iter_plan, maker_orders
from exchange.loadgen.users import funding_of
from exchange.loadgen.workers import Ready, run_parts, shares
from exchange.refdata import load_instruments

CAPACITY_PLAN_RATE = 150_000.0
"""With --rate 0 (as fast as the engine takes), the plan is built at this rate over
--seconds (shared by the processes; encoding it takes a few µs an order, before the timed
part), then sent closed loop until the time is up or the plan is all sent."""
SNAPSHOT_GUESS_RATE = 50_000
"""With --rate 0, the rate assumed to place a snapshot within the run (every 1,000,000
commands at most, the engine's default)."""
SETUP_IN_FLIGHT = 512
"""Setup commands (accounts, deposits, maker orders) in flight at once."""


@dataclass(frozen=True)
class EnginePart:
    """What one generator process drives: its users' accounts and its share of the plan."""

    endpoint: str
    keys: ClientKeys
    accounts: list[int]
    symbols: list[Symbol]
    plan: PlanConfig
    window: int | None
    seconds: float
    timeout: float


def encode_part(part: EnginePart) -> tuple[EngineLoad, Counter[str]]:
    """The part's plan as encoded requests (request `i` is arrival `i`), and its mix."""
    load, mix = EngineLoad(), Counter[str]()
    encode, tag = request_encoder.encode, part.plan.tag
    for i, arrival in enumerate(iter_plan(part.plan, part.symbols)):
        command = command_of(arrival, part.accounts[arrival.user], tag)
        load.at.append(arrival.at)
        load.kinds.append(KINDS.index(arrival.kind))
        load.frames.append(encode(Request(i, command)))
        mix[arrival.kind.value] += 1
    return load, mix


def drive_part(part: EnginePart, ready: Ready) -> dict[str, Any]:
    """A worker's whole job (module level: run in a spawned process)."""
    from exchange.heap import quiet, settle

    load, mix = encode_part(part)
    driver = EngineDriver(part.endpoint, part.keys, timeout=part.timeout)
    recorder = Recorder()
    try:
        settle()
        ready()
        with quiet():
            stats = driver.drive(load, recorder, window=part.window, seconds=part.seconds)
    finally:
        driver.close()
    return {
        "recorder": to_wire(recorder),
        "sent": stats.sent,
        "answered": stats.answered,
        "elapsed": stats.elapsed,
        "fills": stats.fills,
        "rejected": stats.rejected,
        "cpu_seconds": stats.cpu_seconds,
        "messages_sent": stats.messages_sent,
        "client_lag": stats.client_lag.percentiles_ms(),
        "mix": dict(mix),
        "planned": len(load),
    }


async def _submit_all(client: EngineClient, commands: list[RequestCommand]) -> None:
    """Every command, `SETUP_IN_FLIGHT` at a time; any rejection is a setup failure."""
    for start in range(0, len(commands), SETUP_IN_FLIGHT):
        chunk = commands[start : start + SETUP_IN_FLIGHT]
        replies = await asyncio.gather(*(client.submit(c) for c in chunk))
        for command, reply in zip(chunk, replies, strict=True):
            refused = [e for e in reply.events if "Rejected" in type(e).__name__]
            if reply.error or refused:
                raise RuntimeError(f"setup: {command!r} refused: {reply.error or refused}")


async def open_members(
    endpoint: str, keys: ClientKeys, users: int, makers: int, symbols: list[Symbol],
    levels: int, quantity: int,
) -> tuple[list[int], list[int]]:  # fmt: skip
    """Users and makers opened and funded (as `funding_of` says), the makers' orders resting."""
    client = EngineClient(endpoint, keys=keys, timeout=5.0, deadline=120.0)
    run = secrets.token_hex(3)
    try:
        owners = [f"bench_{run}_user_{i}" for i in range(users)]
        owners += [f"bench_{run}_maker_{i}" for i in range(makers)]
        accounts: list[int] = []
        for start in range(0, len(owners), SETUP_IN_FLIGHT):
            chunk = owners[start : start + SETUP_IN_FLIGHT]
            accounts += await asyncio.gather(*(client.open_account(o) for o in chunk))
        deposits: list[RequestCommand] = []
        for index, account in enumerate(accounts):
            maker = index >= users
            member = index - users if maker else index
            for asset, amount in funding_of(member, symbols, maker):
                deposits.append(Deposit(account=account, asset=asset, amount=amount,
                                        reference=f"bench-{account}-{asset}"))  # fmt: skip
        await _submit_all(client, deposits)
        liquidity = maker_orders(symbols, makers, levels, quantity)
        await _submit_all(client, list(maker_commands(liquidity, accounts[users:], run)))
    finally:
        await client.close()
    return accounts[:users], accounts[users:]


def parts_of(
    config: BenchConfig, endpoint: str, keys: ClientKeys, users: list[int], symbols: list[Symbol],
    mix: Mix, tag: str,
) -> list[EnginePart]:  # fmt: skip
    """1/N of the users and of the rate per process; each its own seed and order-id tag."""
    count = max(1, min(config.processes, len(users)))
    rate = config.rate if config.rate > 0 else CAPACITY_PLAN_RATE
    parts = []
    for index, (first, mine) in enumerate(shares(users, count)):
        plan = PlanConfig(
            users=len(mine), rate=rate / count, seconds=config.seconds,
            seed=config.seed * 1_000 + index, mix=mix, arrivals=config.arrivals,
            tag=f"{tag}{index}", maker_levels=config.maker_levels, first_user=first,
        )  # fmt: skip
        window = None if config.rate > 0 else config.window
        parts.append(
            EnginePart(endpoint, keys, mine, symbols, plan, window, config.seconds, config.timeout)
        )
    return parts


def run_engine_bench(
    config: BenchConfig, data_dir: Path, say: Callable[[str], None]
) -> tuple[dict[str, Any], Recorder]:
    """Spawn an engine in `data_dir`, drive it, stop it, check the outcome; the summary."""
    # One snapshot (the engine's live state, checked against the replay) about halfway.
    expected = int((config.rate or SNAPSHOT_GUESS_RATE) * config.seconds)
    every = config.snapshot_every or min(1_000_000, max(1_000, expected // 2))
    options = processes.EngineOptions(
        durability=config.durability, python=config.engine_python, snapshot_every=every
    )
    python = processes.engine_python(options.python)
    compiled = processes.is_compiled(python)
    say(f"starting an engine ({'compiled' if compiled else 'pure Python'} core, "
        f"{config.durability}) in {data_dir}")  # fmt: skip
    engine_config, fleet = processes.spawn_engine(data_dir, options)
    try:
        results, engine_cpu = _drive(config, engine_config, fleet["engine"].pid, say)
    finally:
        fleet.stop()
    recorder = Recorder()
    for result in results:
        merge(recorder, result["recorder"])
        for reason, count in result["rejected"].items():
            recorder.errors[reason] += count
    say("replaying the journal to check the outcome")
    checked = outcome.verify(data_dir, fills_seen=sum(r["fills"] for r in results))
    if not checked["exact"]:
        recorder.errors["outcome_not_exact"] += 1
    run = {"durability": config.durability, "engine_python": python, "engine_compiled": compiled,
           "outcome": checked}  # fmt: skip
    return _summary(config, recorder, results, engine_cpu, run), recorder


def _drive(
    config: BenchConfig, engine: ExchangeConfig, pid: int, say: Callable[[str], None]
) -> tuple[list[dict[str, Any]], float | None]:
    """Members opened, the parts driven: their results, and the engine's CPU seconds meanwhile."""
    symbols = [symbol_of(i) for i in load_instruments()]
    keys = KeyDirectory(engine.keys_dir)
    endpoint = engine.engine.endpoint
    say(f"opening {config.users} users and {config.makers} makers")
    users, _ = asyncio.run(
        open_members(endpoint, keys.client("admin"), config.users, config.makers, symbols,
                     config.maker_levels, config.maker_quantity)
    )  # fmt: skip
    mix = Mix(config.market_share, config.cancel_share, config.marketable_share)
    parts = parts_of(config, endpoint, keys.client("trading"), users, symbols, mix,
                     secrets.token_hex(3))  # fmt: skip
    say(f"{len(parts)} generator processes encode their plans, then start together")
    before: list[float | None] = []
    results = run_parts(
        drive_part, parts, on_start=lambda: before.append(processes.cpu_seconds(pid)),
        run_s=config.seconds * 20 + 600,
    )  # fmt: skip
    after = processes.cpu_seconds(pid)
    start = before[0] if before else None
    return results, (after - start if after is not None and start is not None else None)


def _summary(
    config: BenchConfig, recorder: Recorder, results: list[dict[str, Any]],
    engine_cpu: float | None, run: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The JSON line's contents (the same keys as over REST and FIX, and the run's checks)."""
    sent = sum(r["sent"] for r in results)
    answered = sum(r["answered"] for r in results)
    cpu: dict[str, float] = {}
    if engine_cpu is not None and answered:
        cpu["engine"] = round(engine_cpu / answered * 1e6, 1)
    if answered:
        cpu["loadgen"] = round(sum(r["cpu_seconds"] for r in results) / answered * 1e6, 1)
    mix: Counter[str] = Counter()
    for result in results:
        mix.update(result["mix"])
    messages = sum(r["messages_sent"] for r in results)
    market = mix.get(Kind.MARKET.value, 0)
    if config.rate <= 0:  # closed loop: the market orders sent, not all those planned
        market = recorder.series.get("market", Series()).count + recorder.outcomes.get(
            "market_unfilled", 0
        )
    return summary.build(
        recorder, orders_sent=sent, orders_answered=answered,
        elapsed=max(r["elapsed"] for r in results), market_orders=market,
        extra={
            "protocol": "engine", "users": config.users, "makers": config.makers,
            "processes": len(results), "target_rate": config.rate,
            "mode": "open loop" if config.rate > 0 else f"closed loop, window {config.window}",
            "duration_s": config.seconds, "planned": sum(r["planned"] for r in results),
            "mix": dict(mix), "seed": config.seed, "spawned": True, **run,
            "requests_per_message": round(sent / max(1, messages), 1),
            "cpu_us_per_request": cpu,
            "client_lag_ms": [r["client_lag"] for r in results],
        },
    )  # fmt: skip
