"""The reporter's database: migrations, its position, and one transaction per group of batches.

Exactly once: the rows of a group and the position they reach commit in
the same transaction, so a crash at any point leaves either both or
neither, and a restart continues from the committed position. On SQLite
inserts are batched (SQLAlchemy's multi-row INSERTs); on PostgreSQL rows go
in by COPY (psycopg 3), and order updates are COPYed into a temporary table
and applied with one UPDATE ... FROM. Balances and statements are upserts.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from exchange.database import create_engine
from exchange.migrations import REPORTS
from exchange.reporter.projector import Rows
from exchange.reporter.schema import (
    balances,
    executions,
    movements,
    orders,
    position,
    statements,
)


class ReportStore:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        REPORTS.require(self.engine)  # migrated before any service starts
        dialect = self.engine.dialect.name
        self._copy = dialect == "postgresql"
        """PostgreSQL takes rows by COPY, several times faster than multi-row INSERTs."""
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._update_order = (
            orders.update()
            .where(orders.c.order_id == sa.bindparam("key"))
            .values(
                status=sa.bindparam("status"),
                filled_quantity=sa.bindparam("filled_quantity"),
                remaining_quantity=sa.bindparam("remaining_quantity"),
                updated_at=sa.bindparam("updated_at"),
            )
        )

    def state(self) -> tuple[int, int, dict[tuple[int, str], int]]:
        """(last committed seq, trading day, balances) to resume from."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(position.c.last_seq, position.c.trading_day)).first()
            totals = {(r.account, r.asset): r.total for r in conn.execute(sa.select(balances))}
        return (row.last_seq, row.trading_day, totals) if row else (0, 0, totals)

    def write(self, rows: Rows) -> None:
        with self.engine.begin() as conn:
            if self._copy:
                self._copy_rows(conn, rows)
            else:
                if rows.new_orders:
                    conn.execute(orders.insert(), list(rows.new_orders.values()))
                if rows.order_updates:
                    conn.execute(
                        self._update_order,
                        [{"key": k, **v} for k, v in rows.order_updates.items()],
                    )
                if rows.executions:
                    conn.execute(executions.insert(), rows.executions)
                if rows.movements:
                    conn.execute(movements.insert(), rows.movements)
            if rows.balances:
                upsert = self._insert(balances)
                conn.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["account", "asset"], set_={"total": upsert.excluded.total}
                    ),
                    [{"account": a, "asset": s, "total": t} for (a, s), t in rows.balances.items()],
                )
            if rows.statements:
                upsert = self._insert(statements)
                conn.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["trading_day", "account", "asset"],
                        set_={"total": upsert.excluded.total},
                    ),
                    rows.statements,
                )
            upsert = self._insert(position)
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["id"],
                    set_={
                        "last_seq": upsert.excluded.last_seq,
                        "trading_day": upsert.excluded.trading_day,
                    },
                ),
                {"id": 1, "last_seq": rows.last_seq, "trading_day": rows.trading_day},
            )

    @staticmethod
    def _copy_rows(conn: sa.Connection, rows: Rows) -> None:
        """PostgreSQL: COPY the inserts, and apply order updates from a COPYed temporary table."""
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for table, records in (
            (orders, list(rows.new_orders.values())),
            (executions, rows.executions),
            (movements, rows.movements),
        ):
            if not records:
                continue
            names = [c.name for c in table.columns]
            with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for record in records:
                    copy.write_row([record[n] for n in names])
        if rows.order_updates:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS order_updates (order_id BIGINT,"
                " status VARCHAR(16), filled_quantity BIGINT, remaining_quantity BIGINT,"
                " updated_at BIGINT) ON COMMIT DELETE ROWS"
            )
            with cursor.copy("COPY order_updates FROM STDIN") as copy:
                fields = ("status", "filled_quantity", "remaining_quantity", "updated_at")
                for order_id, change in rows.order_updates.items():
                    copy.write_row([order_id, *(change[f] for f in fields)])
            cursor.execute(
                "UPDATE orders SET status = u.status, filled_quantity = u.filled_quantity,"
                " remaining_quantity = u.remaining_quantity, updated_at = u.updated_at"
                " FROM order_updates u WHERE orders.order_id = u.order_id"
            )

    def close(self) -> None:
        self.engine.dispose()
