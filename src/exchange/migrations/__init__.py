"""Schemas before services: every database of the exchange is migrated here, once, before any
service starts (`exchange migrate`, and the first step of `exchange run` and `exchange bench
--spawn`).

No service creates tables: two services that created the same tables at once
was how `make run` failed about one start in seven (`table accounts already
exists`). A service opened on a database that is not at the newest revision
stops with `SchemaNotReadyError`, which names the command to run.

Each database has its own Alembic script directory and its own version
table, so the accounts, FIX-session and report schemas can share one
PostgreSQL database without stepping on each other.
"""

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from exchange.database import create_engine

HERE = Path(__file__).parent


class SchemaNotReadyError(RuntimeError):
    """The database is not at the newest revision: run `exchange migrate`."""


@dataclass(frozen=True)
class Schema:
    """One database's migrations: where they are, their version table, how to spot an old copy."""

    name: str
    scripts: Path
    version_table: str
    baseline_table: str
    """A table of revision 0001: present without a version table means a database made before
    migrations existed, which is stamped at 0001 instead of created again."""

    def config(self, connection: sa.Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.scripts))
        config.attributes["connection"] = connection
        config.attributes["version_table"] = self.version_table
        return config

    def head(self) -> str | None:
        return ScriptDirectory.from_config(self.config()).get_current_head()

    def current(self, connection: sa.Connection) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table": self.version_table})
        return context.get_current_revision()

    def upgrade(self, url: str) -> str | None:
        """Bring the database at `url` to the newest revision; returns it."""
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                config = self.config(connection)
                inspector = sa.inspect(connection)
                if not inspector.has_table(self.version_table) and inspector.has_table(
                    self.baseline_table
                ):
                    command.stamp(config, "0001")
                command.upgrade(config, "head")
                return self.current(connection)
        finally:
            engine.dispose()

    def require(self, engine: sa.Engine) -> None:
        """Raise SchemaNotReadyError unless the database is at the newest revision."""
        with engine.connect() as connection:
            current = self.current(connection)
        head = self.head()
        if current != head:
            raise SchemaNotReadyError(
                f"the {self.name} database is at revision {current or 'none'}, not {head}: "
                f"run `exchange migrate` (or start the exchange with `exchange run`) first"
            )


ACCOUNTS = Schema("accounts", HERE / "accounts", "accounts_alembic_version", "credentials")
FIX_SESSIONS = Schema("FIX session", HERE / "fix", "fix_alembic_version", "fix_sessions")
REPORTS = Schema(
    "report",
    Path(__file__).parents[1] / "reporter" / "migrations",
    "alembic_version",  # the reporter's, from before the other schemas had migrations
    "orders",
)


def private_directory(root: Path) -> None:
    """The data directory, owner-only (0700): it holds KYC data, hashes and the order flow."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if root.stat().st_mode & 0o077:
        root.chmod(0o700)


def migrate_all(*, accounts: str, fix: str, reports: str) -> dict[str, str | None]:
    """Migrate every database of the exchange; returns each one's revision."""
    return {
        "accounts": ACCOUNTS.upgrade(accounts),
        "fix": FIX_SESSIONS.upgrade(fix),
        "reports": REPORTS.upgrade(reports),
    }
