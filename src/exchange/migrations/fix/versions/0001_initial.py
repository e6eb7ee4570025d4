"""The first FIX session schema: sequence numbers per counterparty and the messages sent.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fix_sessions",
        sa.Column("comp_id", sa.String(64), primary_key=True),
        sa.Column("next_in", sa.BigInteger, nullable=False),
        sa.Column("next_out", sa.BigInteger, nullable=False),
        sa.Column("last_event", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "fix_sent",
        sa.Column("comp_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("msg_type", sa.String(4), nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fix_sent")
    op.drop_table("fix_sessions")
