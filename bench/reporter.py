"""The reporter: rows/s into SQLite and PostgreSQL, and its lag behind a live engine.

1. Catch-up throughput: the standard workload's first `--commands` commands
   are journaled by the real engine path, then `Reporter` reads the whole
   journal into each backend (`--max-records` batches per transaction).
   Commands/s is the rate it keeps pace with.
2. Lag: `exchange engine` and `exchange reporter` as processes, an engine
   client sending orders at `--rate` for `--seconds`; every 20 ms the
   journal's head and the database's position are sampled; the lag is the
   age of the oldest journaled batch the database does not have yet (0 when
   it has everything).

    python bench/reporter.py --commands 200000 --pg postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from core import load_workload, setup_commands, stream_commands
from exchange.config import ExchangeConfig, updated
from exchange.core import Deposit, NewOrder, OrderType, Side, TimeInForce
from exchange.engine import JournaledCore
from exchange.engine.client import EngineClient
from exchange.engine.curve import ClientKeys, KeyDirectory
from exchange.journal import JournalReader
from exchange.launch import Fleet, on_free_ports, service
from exchange.migrations import REPORTS
from exchange.reporter.service import Reporter
from exchange.reporter.store import ReportStore

ROOT = Path(__file__).resolve().parent.parent


def write_journal(root: Path, commands: int, batch: int) -> int:
    stream, _ = load_workload(None)
    all_commands = setup_commands(int(stream["sym"].max()) + 1) + stream_commands(stream[:commands])
    clock = itertools.count(1_700_000_000_000_000_000, 1_000)
    with JournaledCore(root, clock=lambda: next(clock)) as engine:
        for start in range(0, len(all_commands), batch):
            engine.process(all_commands[start : start + batch])  # type: ignore[arg-type]
    return len(all_commands)


def pg_schema(url: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    return f"{url}?options=-csearch_path%3D{schema}", schema


def drop_schema(url: str, schema: str) -> None:
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def catch_up(journal: Path, url: str, max_records: int) -> dict[str, float]:
    REPORTS.upgrade(url)
    store = ReportStore(url)
    reporter = Reporter(journal, store, max_records=max_records)
    started = time.perf_counter()
    reporter.run(lambda: True, exit_when_idle=True)
    elapsed = time.perf_counter() - started
    with store.engine.connect() as conn:
        rows = sum(
            conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("orders", "executions", "movements")
        )
    store.close()
    return {
        "commands_per_s": round(reporter.last_seq / elapsed),
        "rows_per_s": round(rows / elapsed),
        "rows": rows,
        "seconds": round(elapsed, 2),
    }


async def drive(endpoint: str, keys: ClientKeys, rate: float, seconds: float) -> int:
    client = EngineClient(endpoint, keys=keys, timeout=2.0)
    try:
        for account in (1, 2):
            opened = await client.open_account(f"owner-{account}")
            assert opened == account, "a new engine gives account ids 1, 2, ... in order"
            await client.submit(
                Deposit(account=account, asset="IRR", amount=10**15, reference=f"c{account}")
            )
            await client.submit(
                Deposit(account=account, asset="FOOLAD", amount=10**9, reference=f"s{account}")
            )
        loop = asyncio.get_running_loop()
        begin = loop.time()
        pending = set()
        for n in range(int(rate * seconds)):
            delay = begin + n / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            side = Side.SELL if n % 2 else Side.BUY
            account = 2 if side is Side.SELL else 1
            order = NewOrder(
                account=account,
                client_order_id=f"o{n}",
                symbol="FOOLAD",
                side=side,
                order_type=OrderType.LIMIT,
                time_in_force=TimeInForce.DAY,
                price=5_430 + (n % 7) - 3,
                quantity=10,
            )
            pending.add(asyncio.ensure_future(client.submit(order)))
            if len(pending) > 2_000:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.gather(*pending)
        return int(rate * seconds)
    finally:
        await client.close()


def lag(url: str, rate: float, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        config = updated(on_free_ports(ExchangeConfig(), data), {
            "engine.calendar": "always-open", "reporter.db_url": url,
        })  # fmt: skip
        endpoint = config.engine.endpoint
        REPORTS.upgrade(url)  # migrated before the reporter starts
        fleet = Fleet()
        fleet.start(service("engine", config, quiet=True, cwd=ROOT))
        fleet.start(service("reporter", config, quiet=True, cwd=ROOT))
        keys = KeyDirectory(config.keys_dir).client("admin")
        store = sa.create_engine(url)
        head_seen: list[tuple[float, int]] = []
        lags: list[float] = []
        stop = False

        async def sample() -> None:
            reader = JournalReader(data / "journal")
            synced = False  # count lags only once the reporter has caught up with the start
            while not stop:
                now = time.perf_counter()
                head = reader.head_seq()
                if not head_seen or head > head_seen[-1][1]:
                    head_seen.append((now, head))
                with store.connect() as conn:
                    row = conn.execute(sa.text("SELECT last_seq FROM reporter_position")).first()
                position = row[0] if row else 0
                synced = synced or (position > 0 and position >= head)
                # Behind by the age of the oldest journaled batch not yet reported (0 if none).
                waiting = next((t for t, h in head_seen if h > position), None)
                if synced:
                    lags.append(0.0 if waiting is None else now - waiting)
                await asyncio.sleep(0.02)

        async def both() -> int:
            nonlocal stop
            sampler = asyncio.ensure_future(sample())
            await asyncio.sleep(1)
            sent = await drive(endpoint, keys, rate, seconds)
            stop = True
            await sampler
            return sent

        try:
            sent = asyncio.run(both())
        finally:
            fleet.stop(grace=60)
            store.dispose()
    lags.sort()
    return {
        "orders": sent,
        "rate": rate,
        "lag_p50_s": round(lags[len(lags) // 2], 3) if lags else -1,
        "lag_p99_s": round(lags[int(len(lags) * 0.99)], 3) if lags else -1,
        "lag_max_s": round(lags[-1], 3) if lags else -1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=200_000)
    parser.add_argument("--max-records", type=int, default=200, help="batches per transaction")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rate", type=float, default=5_000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        total = write_journal(root, args.commands, 100)
        results["journal_commands"] = total
        results["sqlite"] = catch_up(
            root / "journal", f"sqlite:///{Path(tmp) / 'r.db'}", args.max_records
        )
        print("sqlite catch-up", results["sqlite"], flush=True)
        url, schema = pg_schema(args.pg)
        try:
            results["postgresql"] = catch_up(root / "journal", url, args.max_records)
            print("postgresql catch-up", results["postgresql"], flush=True)
        finally:
            drop_schema(args.pg, schema)
    url, schema = pg_schema(args.pg)
    try:
        results["lag_postgresql"] = lag(url, args.rate, args.seconds)
        print("postgresql lag", results["lag_postgresql"], flush=True)
    finally:
        drop_schema(args.pg, schema)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
