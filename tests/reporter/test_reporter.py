"""The reporter on SQLite and PostgreSQL: exact rows, migrations, reconcile, SIGKILL anywhere."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from exchange.config import ExchangeConfig, updated
from exchange.core import CASH_ASSET, Deposit, NewOrder, OrderStatus, OrderType, Side, TimeInForce
from exchange.core.events import Fill
from exchange.engine import rebuild
from exchange.engine.journaled import JournaledCore
from exchange.launch import service
from exchange.reporter.reconcile import reconcile
from exchange.reporter.schema import balances, executions, metadata, movements, orders, statements
from exchange.reporter.service import Reporter
from exchange.reporter.store import ReportStore
from tests import migrated
from tests.engine.workload import random_batches, setup_batch
from tests.pg import postgres_schema

ROOT = Path(__file__).resolve().parents[2]
TABLES = (orders, executions, movements, balances, statements)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reports.db'}"
    else:
        with postgres_schema() as url:
            yield url


def write_session(root: Path, seed: int, batches: int) -> None:
    """A journal of a random trading session (with day rolls), written by the real engine path."""
    clock = itertools.count(1_700_000_000_000_000_000, 1_000_000)
    with JournaledCore(root, clock=lambda: next(clock)) as engine:
        engine.process(setup_batch())
        for commands in random_batches(seed, batches):
            engine.process(commands)


def dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
                for t in TABLES
            }
    finally:
        engine.dispose()


def test_reports_equal_the_replayed_state_and_reconcile(tmp_path: Path, db_url: str) -> None:
    root = tmp_path / "data"
    write_session(root, seed=3, batches=120)
    store = ReportStore(migrated.reports_db(db_url))
    try:
        reporter = Reporter(root / "journal", store, max_records=7)
        reporter.run(lambda: True, exit_when_idle=True)
        assert reporter.transactions > 10
    finally:
        store.close()
    replay = rebuild(root)
    assert reporter.last_seq == replay.last_seq
    tables = dump(db_url)
    # Balances are exactly the replayed core's totals.
    expected = {(a.id, CASH_ASSET): a.cash for a in replay.core.accounts.values()}
    for account in replay.core.accounts.values():
        expected.update({(account.id, s): p.total for s, p in account.positions.items()})
    assert {(a, s): t for a, s, t in tables["balances"]} == {k: v for k, v in expected.items()}
    # Every order the core still holds has the same progress in the report.
    reported = {row[0]: row for row in tables["orders"]}
    columns = [c.name for c in orders.columns]
    for order in replay.core.orders.values():
        row = dict(zip(columns, reported[order.id], strict=True))
        assert row["status"] == OrderStatus(order.status).name.lower()
        assert row["filled_quantity"] == order.cum
        if order.is_live:
            assert row["remaining_quantity"] == order.leaves
    # Two executions per trade, each with its cash and its shares movement.
    trades = {row[1] for row in tables["executions"]}
    assert len(tables["executions"]) == 2 * len(trades) > 0
    assert sum(1 for m in tables["movements"] if m[4] == "trade") == 2 * len(tables["executions"])
    assert tables["statements"], "a session closed: statements were written"
    assert reconcile(root, db_url) == []


def test_reconcile_reports_a_difference(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_session(root, seed=4, batches=30)
    url = f"sqlite:///{tmp_path / 'reports.db'}"
    store = ReportStore(migrated.reports_db(url))
    Reporter(root / "journal", store).run(lambda: True, exit_when_idle=True)
    with store.engine.begin() as conn:
        conn.execute(sa.delete(executions).where(executions.c.event_seq == sa.select(
            sa.func.min(executions.c.event_seq)).scalar_subquery()))  # fmt: skip
        conn.execute(
            balances.update().where(balances.c.account == 1).values(total=balances.c.total + 1)
        )
    store.close()
    differences = reconcile(root, url)
    assert any(line.startswith("executions: journal") for line in differences)
    assert any(line.startswith("account 1 ") for line in differences)
    done = subprocess.run(
        [sys.executable, "-m", "exchange", "reconcile", "--data-dir", str(root), "--db-url", url],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "executions: journal" in done.stdout


def test_migrations_build_exactly_the_schema(db_url: str) -> None:
    store = ReportStore(migrated.reports_db(db_url))
    try:
        with store.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == []
        ReportStore(migrated.reports_db(db_url)).close()  # migrating again changes nothing
    finally:
        store.close()


def test_sigkill_at_any_point_gives_the_tables_of_an_uninterrupted_run(
    tmp_path: Path, db_url: str
) -> None:
    root = tmp_path / "data"
    write_session(root, seed=8, batches=1_500)
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    store = ReportStore(migrated.reports_db(reference_url))
    reference = Reporter(root / "journal", store, max_records=50)
    reference.run(lambda: True, exit_when_idle=True)
    store.close()
    config = updated(ExchangeConfig(), {"data_dir": str(root), "reporter.db_url": db_url,
                                        "reporter.max_records": 1})  # fmt: skip
    rng = random.Random(1)
    watcher = ReportStore(migrated.reports_db(db_url))
    positions = []
    try:
        for _ in range(12):
            start = watcher.state()[0]
            target = min(start + rng.randint(200, 2_500), reference.last_seq - 1)
            process = service("reporter", config, quiet=True, cwd=ROOT).start()
            while watcher.state()[0] < target:  # let it write a random stretch, then kill it
                time.sleep(rng.uniform(0.001, 0.01))
            process.kill()
            positions.append(watcher.state()[0])
    finally:
        watcher.close()
    finished = service("reporter", config, "--exit-when-idle", cwd=ROOT).start()
    assert finished.wait(300) == 0
    final = ReportStore(migrated.reports_db(db_url)).state()[0]
    # Killed in the middle of the work, again and again, each time further on.
    assert positions == sorted(positions) and positions[-1] < final, positions
    assert dump(db_url) == dump(reference_url)
    assert reconcile(root, db_url) == []


def test_the_projector_counts_every_fill_once(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_session(root, seed=5, batches=40)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    store = ReportStore(migrated.reports_db(url))
    Reporter(root / "journal", store, max_records=1).run(lambda: True, exit_when_idle=True)
    Reporter(root / "journal", store, max_records=1).run(lambda: True, exit_when_idle=True)  # again
    store.close()
    from exchange.journal import JournalReader
    from exchange.sequencer import decode_batch

    fills = sum(
        1
        for record in JournalReader(root / "journal").read_all()
        for events in decode_batch(record.payload).events
        for e in events
        if type(e) is Fill
    )
    assert len(dump(url)["executions"]) == fills


def test_h3_the_reporter_on_postgresql_keeps_running_after_control_characters(
    tmp_path: Path,
) -> None:
    """A NUL in a client order id, symbol or reference used to stop the PostgreSQL reporter on
    the same batch after every restart; now the core refuses them and no row carries one."""
    root = tmp_path / "data"
    account = 1
    bad = ["\x00", "a\x00b", "X\x0139=2"]

    def buy(coid: str, symbol: str = "AAA") -> NewOrder:
        return NewOrder(
            account=account,
            client_order_id=coid,
            symbol=symbol,
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY,
            price=10_000,
            quantity=10,
        )

    with JournaledCore(root) as engine:
        engine.process(setup_batch())
        engine.process([buy(coid) for coid in bad])
        engine.process([buy(f"ok-{i}", f"AAA{c}") for i, c in enumerate(bad)])
        engine.process(
            [Deposit(account=account, asset=CASH_ASSET, amount=1, reference=ref) for ref in bad]
        )
        engine.process([buy("after")])  # the reporter must get past the rest to store this
        last_seq = engine.last_seq
    with postgres_schema() as url:
        store = ReportStore(migrated.reports_db(url))
        try:
            reporter = Reporter(root / "journal", store, max_records=2)
            reporter.run(lambda: True, exit_when_idle=True)
        finally:
            store.close()
        assert reporter.last_seq == last_seq
        tables = dump(url)
    texts = [v for rows in tables.values() for row in rows for v in row if isinstance(v, str)]
    assert not [t for t in texts if any(c in t for c in "\x00\x01")]
    assert any(row[2] == "after" for row in tables["orders"]), tables["orders"]
