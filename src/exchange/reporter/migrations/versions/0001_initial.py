"""The first schema: orders, executions, movements, balances, statements, the position.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
BIG = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "orders",
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
    )
    op.create_index("ix_orders_account_created", "orders", ["account", "created_at"])
    op.create_table(
        "executions",
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
    )
    op.create_index("ix_executions_account_time", "executions", ["account", "time", "event_seq"])
    op.create_table(
        "movements",
        sa.Column("event_seq", BIG, primary_key=True, autoincrement=False),
        sa.Column("asset", sa.String(16), primary_key=True),
        sa.Column("account", BIG, nullable=False),
        sa.Column("amount", BIG, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("time", BIG, nullable=False),
    )
    op.create_index("ix_movements_account_time", "movements", ["account", "time"])
    op.create_table(
        "balances",
        sa.Column("account", BIG, primary_key=True, autoincrement=False),
        sa.Column("asset", sa.String(16), primary_key=True),
        sa.Column("total", BIG, nullable=False),
    )
    op.create_table(
        "statements",
        sa.Column("trading_day", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("account", BIG, primary_key=True, autoincrement=False),
        sa.Column("asset", sa.String(16), primary_key=True),
        sa.Column("total", BIG, nullable=False),
    )
    op.create_table(
        "reporter_position",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", BIG, nullable=False),
        sa.Column("trading_day", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("reporter_position", "statements", "balances", "movements", "executions"):
        op.drop_table(table)
    op.drop_index("ix_orders_account_created", "orders")
    op.drop_table("orders")
