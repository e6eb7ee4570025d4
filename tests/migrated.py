"""Databases migrated the way `exchange migrate` does it, for tests that open stores directly."""

from pathlib import Path

from exchange.config import ExchangeConfig, updated
from exchange.migrations import ACCOUNTS, FIX_SESSIONS, REPORTS
from exchange.services import migrate


def accounts_db(url: str) -> str:
    ACCOUNTS.upgrade(url)
    return url


def fix_db(url: str) -> str:
    FIX_SESSIONS.upgrade(url)
    return url


def reports_db(url: str) -> str:
    REPORTS.upgrade(url)
    return url


def data_dir(root: Path) -> Path:
    """`root` as `exchange migrate --data-dir root` leaves it (the databases' file names are
    the config's: one place says them)."""
    migrate(updated(ExchangeConfig(), {"data_dir": str(root)}))
    return root
