"""The engine allocates account ids; an application keeps the owner reference it opened with
(review M1).

`account_owner` is a random reference, set once when an approval first asks the
engine for an account, unique: the engine binds the account it opens to it, so a
retried approval finds the same account and no other application can get it.

On SQLite the table is rebuilt with AUTOINCREMENT, so the id of a deleted
application is never given again (PostgreSQL's sequences never reuse one).

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    with op.batch_alter_table(
        "kyc_applications",
        recreate="always" if _sqlite() else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.add_column(sa.Column("account_owner", sa.String(64), nullable=True))
        batch.create_index("ix_kyc_applications_account_owner", ["account_owner"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table(
        "kyc_applications", recreate="always" if _sqlite() else "auto"
    ) as batch:
        batch.drop_index("ix_kyc_applications_account_owner")
        batch.drop_column("account_owner")
