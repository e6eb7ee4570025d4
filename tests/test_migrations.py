"""Schemas before services: each database's migrations build exactly the tables its code uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from exchange.accounts.store import AccountStore
from exchange.accounts.store import metadata as accounts_metadata
from exchange.fix.store import metadata as fix_metadata
from exchange.migrations import ACCOUNTS, FIX_SESSIONS, Schema, SchemaNotReadyError
from tests.pg import postgres_schema


@pytest.mark.parametrize(
    ("schema", "metadata"),
    [(ACCOUNTS, accounts_metadata), (FIX_SESSIONS, fix_metadata)],
    ids=["accounts", "fix"],
)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_build_exactly_the_schema(
    tmp_path: Path, schema: Schema, metadata: sa.MetaData, backend: str
) -> None:
    def check(url: str) -> None:
        assert schema.upgrade(url) == schema.head()
        assert schema.upgrade(url) == schema.head()  # again: nothing to do
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(
                    conn, opts={"version_table": schema.version_table}
                )
                assert compare_metadata(context, metadata) == []
        finally:
            engine.dispose()

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'db.sqlite'}")
    else:
        with postgres_schema() as url:
            check(url)


def test_a_service_on_an_unmigrated_database_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(SchemaNotReadyError, match="exchange migrate"):
        AccountStore(f"sqlite:///{tmp_path / 'accounts.db'}")


def test_a_database_from_before_migrations_is_stamped_not_created_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    engine = sa.create_engine(url)
    accounts_metadata.create_all(engine)  # what services did before 2026-12-05...
    with engine.begin() as conn:  # ...with the tables of then (nothing of revisions 0002-3)
        conn.exec_driver_sql("DROP INDEX one_approved_application_per_identity")
        conn.exec_driver_sql("DROP INDEX ix_kyc_applications_account_owner")
        conn.exec_driver_sql("ALTER TABLE kyc_applications DROP COLUMN account_owner")
    engine.dispose()
    assert ACCOUNTS.upgrade(url) == ACCOUNTS.head()
