"""`exchange reconcile`: the report database against a replay of the journal.

Up to the position the database has committed, it compares: the number of
orders and executions; traded quantity and notional per symbol; cash and
shares per account (the replayed core's totals against the reporter's
balances). Any difference is a line of the result; none means reconciled.
"""

from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from exchange.core import CASH_ASSET
from exchange.core.events import Fill, OrderAccepted, OrderRejected
from exchange.database import create_engine
from exchange.engine.layout import DataDir
from exchange.engine.recovery import rebuild
from exchange.journal import JournalReader
from exchange.reporter.schema import balances, executions, orders, position
from exchange.sequencer import decode_batch


def _journal_figures(root: Path, until_seq: int) -> tuple[int, int, Counter[str], Counter[str]]:
    """(orders, executions, quantity by symbol, notional by symbol) up to `until_seq`."""
    order_count = execution_count = 0
    quantity: Counter[str] = Counter()
    notional: Counter[str] = Counter()
    journal = DataDir(root).journal
    if not journal.is_dir() or not until_seq:
        return 0, 0, quantity, notional
    for record in JournalReader(journal).read_all():
        if record.first_seq > until_seq:
            break
        for events in decode_batch(record.payload).events:
            for e in events:
                if type(e) is Fill:
                    execution_count += 1
                    if e.aggressor:
                        quantity[e.symbol] += e.quantity
                        notional[e.symbol] += e.quantity * e.price
                elif (type(e) is OrderAccepted or type(e) is OrderRejected) and e.order_id:
                    order_count += 1
    return order_count, execution_count, quantity, notional


def reconcile(root: Path, db_url: str) -> list[str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(position.c.last_seq)).first()
            last_seq = row.last_seq if row else 0
            db_orders = conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one()
            db_executions = conn.execute(
                sa.select(sa.func.count()).select_from(executions)
            ).scalar_one()
            traded = conn.execute(
                sa.select(
                    executions.c.symbol,
                    sa.func.sum(executions.c.quantity),
                    sa.func.sum(executions.c.quantity * executions.c.price),
                )
                .where(executions.c.aggressor)
                .group_by(executions.c.symbol)
            ).all()
            totals = {(r.account, r.asset): r.total for r in conn.execute(sa.select(balances))}
    finally:
        engine.dispose()
    differences: list[str] = []

    def compare(what: str, journal: int, database: int) -> None:
        if journal != database:
            differences.append(f"{what}: journal {journal:,}, database {database:,}")

    j_orders, j_executions, j_quantity, j_notional = _journal_figures(root, last_seq)
    compare("orders", j_orders, db_orders)
    compare("executions", j_executions, db_executions)
    db_quantity = {symbol: int(q) for symbol, q, _ in traded}
    db_notional = {symbol: int(n) for symbol, _, n in traded}
    for symbol in sorted(set(j_quantity) | set(db_quantity)):
        compare(f"{symbol} traded quantity", j_quantity[symbol], db_quantity.get(symbol, 0))
        compare(f"{symbol} traded notional", j_notional[symbol], db_notional.get(symbol, 0))
    core = rebuild(root, until_seq=last_seq).core if last_seq else None
    expected: dict[tuple[int, str], int] = {}
    if core is not None:
        for account in core.accounts.values():
            expected[(account.id, CASH_ASSET)] = account.cash
            for symbol, held in account.positions.items():
                expected[(account.id, symbol)] = held.total
    for key in sorted(set(expected) | set(totals)):
        owner, asset = key
        compare(f"account {owner} {asset}", expected.get(key, 0), totals.get(key, 0))
    return differences
