"""The reporter's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Money, prices and quantities are BIGINT; times are epoch nanoseconds as the
engine stamped them (exact, sortable). The schema is created and evolved
only by the Alembic migrations in `migrations/`; a test checks that they
produce exactly these tables.
"""

import sqlalchemy as sa

metadata = sa.MetaData()
BIG = sa.BigInteger

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("order_id", BIG, primary_key=True, autoincrement=False),
    sa.Column("account", BIG, nullable=False),
    sa.Column("client_order_id", sa.String(64), nullable=False),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("order_type", sa.String(6), nullable=False),
    sa.Column("time_in_force", sa.String(3), nullable=False),
    sa.Column("price", BIG, nullable=False),
    sa.Column("quantity", BIG, nullable=False),
    sa.Column("filled_quantity", BIG, nullable=False),
    sa.Column("remaining_quantity", BIG, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reject_reason", sa.String(32), nullable=True),
    sa.Column("created_at", BIG, nullable=False),
    sa.Column("updated_at", BIG, nullable=False),
    sa.Index("ix_orders_account_created", "account", "created_at"),
)

executions = sa.Table(
    "executions",
    metadata,
    sa.Column("event_seq", BIG, primary_key=True, autoincrement=False),
    sa.Column("trade_id", BIG, nullable=False),
    sa.Column("order_id", BIG, nullable=False),
    sa.Column("account", BIG, nullable=False),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("price", BIG, nullable=False),
    sa.Column("quantity", BIG, nullable=False),
    sa.Column("time", BIG, nullable=False),
    sa.Column("aggressor", sa.Boolean, nullable=False),
    sa.Index("ix_executions_account_time", "account", "time", "event_seq"),
)

movements = sa.Table(
    "movements",
    metadata,
    sa.Column("event_seq", BIG, primary_key=True, autoincrement=False),
    sa.Column("asset", sa.String(16), primary_key=True),
    sa.Column("account", BIG, nullable=False),
    sa.Column("amount", BIG, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("time", BIG, nullable=False),
    sa.Index("ix_movements_account_time", "account", "time"),
)

balances = sa.Table(
    "balances",
    metadata,
    sa.Column("account", BIG, primary_key=True, autoincrement=False),
    sa.Column("asset", sa.String(16), primary_key=True),
    sa.Column("total", BIG, nullable=False),
)

statements = sa.Table(
    "statements",
    metadata,
    sa.Column("trading_day", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account", BIG, primary_key=True, autoincrement=False),
    sa.Column("asset", sa.String(16), primary_key=True),
    sa.Column("total", BIG, nullable=False),
)

position = sa.Table(
    "reporter_position",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_seq", BIG, nullable=False),
    sa.Column("trading_day", sa.Integer, nullable=False),
)
