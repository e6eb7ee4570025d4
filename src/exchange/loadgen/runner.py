"""`exchange bench`: the steps of a run, in order, and the one JSON line at the end.

exchange (spawned or given) -> symbols -> users and makers (cached) -> the
makers' liquidity -> the plan -> every user's stream -> /metrics -> the
load over REST or FIX (here, or from `--processes` generator processes) ->
streams settle -> /metrics again -> summary. `--protocol engine` takes its
own path (engine_bench.py). What the generator needs to reach the exchange
comes from the options; what it measures goes to stdout (one line), `--out`
(JSON and PNG) and stderr (progress).
"""

from __future__ import annotations

import asyncio
import resource
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from tqdm import tqdm  # type: ignore[import-untyped]

from exchange.heap import quiet, settle
from exchange.loadgen import processes, scrape, summary
from exchange.loadgen.bench_config import BenchConfig
from exchange.loadgen.client_parts import (
    ClientPart,
    drive_client_part,
    event_loop_runner,
    merged_extra,
)
from exchange.loadgen.direct import DirectOpener
from exchange.loadgen.engine_bench import run_engine_bench
from exchange.loadgen.fix_driver import connect_all, drive_fix
from exchange.loadgen.histograms import Recorder, merge
from exchange.loadgen.plan import (
    Arrival,
    Kind,
    Mix,
    PlanConfig,
    Symbol,
    build_plan,
    maker_orders,
)
from exchange.loadgen.rest_driver import DriveStats, drive_rest
from exchange.loadgen.streams import Streams, stream_counts
from exchange.loadgen.users import (
    Api,
    Opener,
    User,
    admin_credential,
    ensure_population,
    funding_of,
    open_via_api,
    rest_liquidity,
    withdraw_liquidity,
)
from exchange.loadgen.workers import run_parts, shares

MAX_USERS = 10_000


def say(message: str) -> None:
    print(f"exchange bench: {message}", file=sys.stderr, flush=True)


async def _symbols(api: Api) -> list[Symbol]:
    status, body = await api.call("GET", "/v1/symbols")
    if status != 200:
        raise RuntimeError(f"GET /v1/symbols: HTTP {status}")
    return [Symbol.from_api(s) for s in body if s.get("status", "active") == "active"]


def _opener(
    config: BenchConfig, api: Api, admin: dict[str, str], symbols: list[Symbol],
    spawned: processes.Spawned | None,
) -> tuple[Opener, DirectOpener | None]:  # fmt: skip
    direct = config.provision == "direct" or (config.provision == "auto" and spawned is not None)
    if direct:
        if spawned is None:
            raise ValueError("--provision direct needs --spawn (it writes the exchange's files)")
        opener = DirectOpener(spawned.data_dir, spawned.engine_endpoint, symbols)
        return opener, opener

    async def via_api(index: int, maker: bool) -> User:
        label = f"Maker {index}" if maker else f"Trader {index}"
        return await open_via_api(api, admin, label, funding_of(index, symbols, maker))

    return via_api, None


def _memory(before: int | None, after: int | None, connected: int) -> dict[str, Any]:
    """Gateway RSS around the streams' connection, and the generator's own peak."""
    out: dict[str, Any] = {
        "loadgen_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    }
    if before is not None and after is not None:
        out["gateway_rss_before_streams_mb"] = round(before / 2**20, 1)
        out["gateway_rss_after_streams_mb"] = round(after / 2**20, 1)
        if connected:
            out["gateway_bytes_per_stream"] = round((after - before) / connected)
    return out


async def _drive_fix(
    config: BenchConfig, acceptor: tuple[str, int], plan: list[Arrival], users: list[User],
    recorder: Recorder, done: Callable[[], None], extra: dict[str, Any],
) -> DriveStats:  # fmt: skip
    """One FIX session per user, the plan through them; fills counted per session into `extra`."""
    stats = DriveStats()
    sessions = await connect_all(*acceptor, users, recorder, stats, done)
    try:
        await drive_fix(sessions, plan, stats, timeout=config.timeout)
        await asyncio.sleep(0.5)  # the last fills of resting orders
    finally:
        fix_fills = [s.fills for s in sessions]
        for session in sessions:
            await session.close()
    extra["fix_fills_received"] = sum(fix_fills)
    extra["fix_users_with_fills"] = sum(1 for f in fix_fills if f)
    return stats


def _plan_facts(plan: list[Arrival]) -> dict[str, Any]:
    return {
        "planned": len(plan),
        "market_orders": sum(1 for a in plan if a.kind is Kind.MARKET),
        "mix": {k.value: sum(1 for a in plan if a.kind is k) for k in Kind},
    }


def client_parts(
    config: BenchConfig, base: str, fix: tuple[str, int], users: list[User],
    symbols: list[Symbol], plan: PlanConfig,
) -> list[ClientPart]:  # fmt: skip
    """1/N of the users and of the rate per process, each its own seed and order-id tag."""
    count = min(config.processes, len(users))
    return [
        ClientPart(
            config.protocol, base, fix, mine, symbols,
            replace(plan, users=len(mine), rate=plan.rate / count,
                    seed=plan.seed * 1_000 + index, tag=f"{plan.tag}p{index}", first_user=first),
            max(1, config.connections // count), config.timeout, config.streams,
        )
        for index, (first, mine) in enumerate(shares(users, count))
    ]  # fmt: skip


def _cpu_per_request(
    pids: dict[str, int | None], before: dict[str, float | None], answered: int
) -> dict[str, float]:
    """Each exchange process's CPU time over the run, per request answered, in µs."""
    out = {}
    for name, pid in pids.items():
        start, end = before.get(name), processes.cpu_seconds(pid)
        if start is not None and end is not None and answered:
            out[name] = round((end - start) / answered * 1e6, 1)
    return out


class Start:
    """What is read of the exchange when the timed part starts: its processes' CPU so far and
    its /metrics (the run's figures are the differences)."""

    def __init__(self, watched: dict[str, int | None], base: str, admin: dict[str, str]) -> None:
        self.watched, self.base, self.admin = watched, base, admin
        self.cpu: dict[str, float | None] = {}
        self.metrics: dict[str, Any] = {}

    async def __call__(self) -> None:
        self.metrics = await scrape.scrape(self.base, self.admin)
        self.cpu = {name: processes.cpu_seconds(pid) for name, pid in self.watched.items()}


@dataclass
class Driven:
    """What driving the plan gave: latencies, counts, and the generator's own CPU."""

    recorder: Recorder
    stats: DriveStats
    facts: dict[str, Any]
    """planned, market_orders, mix."""
    extra: dict[str, Any]
    loadgen_cpu: float
    streams: Streams | None = None
    rss_before: int | None = None
    rss_after: int | None = None


async def _drive_here(
    config: BenchConfig, base: str, fix: tuple[str, int], users: list[User],
    symbols: list[Symbol], plan_config: PlanConfig, at_start: Start, gateway_pid: int | None,
) -> Driven:  # fmt: skip
    """One generator process: this one, with a progress bar."""
    plan = build_plan(plan_config, symbols)
    recorder = Recorder()
    streams = None
    rss_before = processes.rss_bytes(gateway_pid)
    if config.streams:
        say(f"opening {len(users)} WebSocket streams")
        streams = Streams(base.replace("http", "ws", 1), users)
        await streams.connect()
        for kind, count in streams.stats.failures.items():
            recorder.errors[f"stream_{kind}"] += count
    rss_after = processes.rss_bytes(gateway_pid)
    bar = tqdm(total=len(plan), unit="req", file=sys.stderr, disable=not config.progress,
               mininterval=0.5, desc=f"{config.protocol} {config.rate:g}/s")  # fmt: skip
    done: Callable[[], None] = lambda: bar.update(1)  # noqa: E731
    extra: dict[str, Any] = {}
    settle()  # the plan and the users out of the collector's way (exchange.heap)
    await at_start()
    say(f"{len(plan)} arrivals over {config.seconds:g} s ({config.protocol})")
    cpu = time.process_time()
    with quiet():  # the generator's own pauses are not the exchange's latency
        try:
            if config.protocol == "fix":
                stats = await _drive_fix(config, fix, plan, users, recorder, done, extra)
            else:
                stats = await drive_rest(
                    base, plan, users, recorder, connections=config.connections,
                    timeout=config.timeout, done=done,
                )  # fmt: skip
        finally:
            bar.close()
    cpu = time.process_time() - cpu
    if streams is not None:
        await streams.settle()
    return Driven(recorder, stats, _plan_facts(plan), extra, cpu, streams, rss_before, rss_after)


async def _drive_in_processes(
    config: BenchConfig, parts: list[ClientPart], at_start: Start
) -> Driven:
    """`--processes` generator processes; `at_start` read once every one is ready."""
    say(f"{len(parts)} generator processes build their plans and connect, then start together")
    loop = asyncio.get_running_loop()

    def started() -> None:
        asyncio.run_coroutine_threadsafe(at_start(), loop).result(60)

    results = await asyncio.to_thread(
        run_parts, drive_client_part, parts, on_start=started, run_s=config.seconds * 20 + 600
    )
    recorder = Recorder()
    for result in results:
        merge(recorder, result["recorder"])
    stats = DriveStats(
        sent=sum(r["sent"] for r in results), answered=sum(r["answered"] for r in results)
    )
    stats.last_answer = max(r["elapsed"] for r in results)
    stats.client_lag = None
    mix: Counter[str] = Counter()
    for result in results:
        mix.update(result["mix"])
    facts = {
        "planned": sum(r["planned"] for r in results),
        "market_orders": sum(r["market_orders"] for r in results),
        "mix": {k.value: mix.get(k.value, 0) for k in Kind},
    }
    extra = merged_extra(results)
    extra["client_lag_ms_per_process"] = [r["client_lag"] for r in results]
    loadgen_cpu = sum(r["cpu_seconds"] for r in results)
    return Driven(recorder, stats, facts, extra, loadgen_cpu)


async def bench(
    config: BenchConfig, spawned: processes.Spawned | None
) -> tuple[dict[str, Any], Recorder]:
    base = spawned.gateway if spawned is not None else config.gateway.rstrip("/")
    if spawned is not None and spawned.fix_port is not None:
        fix_host, fix_port = "127.0.0.1", spawned.fix_port
    else:
        fix_host, _, port = config.fix.rpartition(":")
        fix_host, fix_port = fix_host or "127.0.0.1", int(port)
    gateway_pid = spawned.pid("gateway") if spawned is not None else config.gateway_pid
    async with aiohttp.ClientSession(
        base, timeout=aiohttp.ClientTimeout(total=120),
        connector=aiohttp.TCPConnector(limit=config.concurrency * 2),
    ) as session:  # fmt: skip
        api = Api(session)
        symbols = await _symbols(api)
        admin_pair = (
            spawned.admin
            if spawned is not None
            else admin_credential(config.admin_id, config.admin_secret, config.data_dir)
        )
        token, _ = await api.token(*admin_pair)
        admin = {"Authorization": f"Bearer {token}"}
        opener, direct = _opener(config, api, admin, symbols, spawned)
        persistent = spawned is None or config.data_dir is not None
        key = f"spawn:{config.data_dir.resolve()}" if spawned and config.data_dir else base
        try:
            population = await ensure_population(
                api, opener, users=config.users, makers=config.makers,
                cache=config.out / "users-cache.json" if config.cache and persistent else None,
                key=key, concurrency=config.concurrency if direct else 4, progress=say,
            )  # fmt: skip
        finally:
            if direct is not None:
                await direct.close()
        tag = secrets.token_hex(3)
        say(f"{len(population.makers)} makers rest liquidity on {len(symbols)} symbols")
        liquidity = maker_orders(
            symbols, len(population.makers), config.maker_levels, config.maker_quantity
        )
        placed = await rest_liquidity(api, population.makers, liquidity, tag, config.concurrency)
        plan_config = PlanConfig(
            users=config.users, rate=config.rate, seconds=config.seconds, seed=config.seed,
            mix=Mix(config.market_share, config.cancel_share, config.marketable_share),
            arrivals=config.arrivals, tag=tag, maker_levels=config.maker_levels,
        )  # fmt: skip
        watched = (
            {name: spawned.pid(name) for name in ("gateway", "engine", "fix")} if spawned else {}
        )
        if gateway_pid is not None:
            watched["gateway"] = gateway_pid
        at_start = Start(watched, base, admin)
        if config.processes > 1:
            parts = client_parts(config, base, (fix_host, fix_port), population.users, symbols,
                                 plan_config)  # fmt: skip
            driven = await _drive_in_processes(config, parts, at_start)
        else:
            driven = await _drive_here(
                config, base, (fix_host, fix_port), population.users, symbols, plan_config,
                at_start, gateway_pid,
            )  # fmt: skip
        stats, extra = driven.stats, driven.extra
        cpu = _cpu_per_request(watched, at_start.cpu, stats.answered)
        if stats.answered:
            cpu["loadgen"] = round(driven.loadgen_cpu / stats.answered * 1e6, 1)
        extra["cpu_us_per_request"] = cpu
        extra["processes"] = config.processes
        token, _ = await api.token(*admin_pair)  # the run may have outlived the first token
        metrics_after = await scrape.scrape(base, {"Authorization": f"Bearer {token}"})
        rss_end = processes.rss_bytes(gateway_pid)
        if driven.streams is not None:
            extra |= stream_counts(driven.streams.stats)
            await driven.streams.close()
        await withdraw_liquidity(api, placed, config.concurrency)
    lag = stats.client_lag.percentiles_ms() if stats.client_lag is not None else {}
    memory = _memory(driven.rss_before, driven.rss_after, extra.get("streams_connected", 0))
    if rss_end is not None:
        memory["gateway_rss_end_mb"] = round(rss_end / 2**20, 1)
    result = summary.build(
        driven.recorder,
        orders_sent=stats.sent,
        orders_answered=stats.answered,
        elapsed=stats.elapsed,
        market_orders=driven.facts["market_orders"],
        extra={
            "protocol": config.protocol, "users": len(population.users),
            "makers": len(population.makers), "target_rate": config.rate,
            "duration_s": config.seconds, "planned": driven.facts["planned"],
            "mix": driven.facts["mix"],
            "seed": config.seed, "spawned": spawned is not None,
            **extra,
            "client_lag_ms": lag, "memory": memory,
            "exchange_metrics": scrape.difference(at_start.metrics, metrics_after),
        },
    )  # fmt: skip
    return result, driven.recorder


def run(config: BenchConfig) -> int:
    """The whole run; prints the JSON line; 0 if it ran (errors are in the line), 2 if not."""
    if not 1 <= config.users <= MAX_USERS:
        say(f"--users must be 1 to {MAX_USERS}")
        return 2
    if config.protocol not in ("rest", "fix", "engine"):
        say("--protocol must be rest, fix or engine")
        return 2
    if config.protocol == "engine" and not config.spawn:
        say("--protocol engine needs --spawn (the run ends with a replay of the engine's journal)")
        return 2
    if config.rate < 0 or (config.rate == 0 and config.protocol != "engine"):
        say("--rate must be positive (0, as fast as it goes, is for --protocol engine)")
        return 2
    if config.processes < 1 or config.window < 1:
        say("--processes and --window must be at least 1")
        return 2
    temporary: tempfile.TemporaryDirectory[str] | None = None
    spawned: processes.Spawned | None = None
    started = time.perf_counter()
    try:
        if config.spawn and config.data_dir is None:
            temporary = tempfile.TemporaryDirectory(prefix="exchange-bench-")
        data = config.data_dir or Path(temporary.name if temporary else ".") / "data"
        if config.protocol == "engine":
            result, recorder = run_engine_bench(config, data, say)
        else:
            if config.spawn:
                fix = config.protocol == "fix"
                say(f"starting an engine, a gateway{' and a FIX acceptor' if fix else ''} in "
                    f"{data}")  # fmt: skip
                spawned = processes.spawn(data, fix=fix, engine=_engine_options(config))
            with event_loop_runner() as runner:
                result, recorder = runner.run(bench(config, spawned))
    except (ValueError, RuntimeError, OSError, aiohttp.ClientError) as error:
        say(f"failed: {error}")
        return 2
    finally:
        if spawned is not None:
            processes.stop(spawned)
        if temporary is not None:
            temporary.cleanup()
    result["wall_s"] = round(time.perf_counter() - started, 1)
    name = f"{config.name}-{config.protocol}"
    path = summary.write(config.out, name, {**result, "title": _title(config)}, recorder)
    say(f"wrote {path} and {path.with_suffix('.png')}")
    print(summary.line(result), flush=True)
    return 0


def _engine_options(config: BenchConfig) -> processes.EngineOptions:
    return processes.EngineOptions(durability=config.durability, python=config.engine_python)


def _title(config: BenchConfig) -> str:
    return (
        f"{config.protocol}, {config.users} users, {config.rate:g} orders/s, {config.seconds:g} s"
    )
