"""The first accounts schema: KYC applications, accounts, credentials and their accounts.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
AWARE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kyc_applications",
        sa.Column("application_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("full_name", sa.String(100), nullable=False),
        sa.Column("national_id", sa.String(20), nullable=False, index=True),
        sa.Column("date_of_birth", sa.Date, nullable=True),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.Column("decided_at", AWARE, nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decision_note", sa.String(500), nullable=True),
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column(
            "application_id",
            sa.Integer,
            sa.ForeignKey("kyc_applications.application_id"),
            nullable=True,
            unique=True,
        ),
        sa.Column("created_at", AWARE, nullable=False),
    )
    op.create_table(
        "credentials",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(200), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "credential_accounts",
        sa.Column(
            "client_id", sa.String(64), sa.ForeignKey("credentials.client_id"), primary_key=True
        ),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.account_id"), primary_key=True),
    )


def downgrade() -> None:
    for table in ("credential_accounts", "credentials", "accounts", "kyc_applications"):
        op.drop_table(table)
