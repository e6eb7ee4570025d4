"""One approved application per national ID, enforced by the database (review M5).

Duplicates are no longer rejected at application (that told anyone whether a national ID
was a customer); an officer decides between them, and this index makes sure that two
approvals of one identity cannot both commit.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "one_approved_application_per_identity",
        "kyc_applications",
        ["national_id"],
        unique=True,
        sqlite_where=sa.text("status = 'approved'"),
        postgresql_where=sa.text("status = 'approved'"),
    )


def downgrade() -> None:
    op.drop_index("one_approved_application_per_identity", "kyc_applications")
