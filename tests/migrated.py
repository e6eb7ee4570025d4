"""Databases migrated the way `exchange migrate` does it, for tests that open stores directly."""

from pathlib import Path

from exchange.migrations import ACCOUNTS, FIX_SESSIONS, REPORTS, migrate_data_dir


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
    return migrate_data_dir(root)
