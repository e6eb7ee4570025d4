"""Data files and secrets are private (review M4, L4, L7).

On 56b90ba, under the usual umask 022, accounts.db (KYC data and hashes), the FIX
session store and every journal segment were 0644 and the data directory 0755; the
accounts database URL (with its password) could only be given on the command line;
and a gateway.key that others could read was used as it was.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from exchange.accounts.keyfile import InsecureKeyFileError
from exchange.gateway.keys import load_or_create_key
from exchange.journal import JournalWriter

ROOT = Path(__file__).resolve().parents[1]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _exchange(*args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exchange", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False, env=env, preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_m4_data_directory_and_databases_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    _exchange("migrate", "--data-dir", str(data))
    assert _mode(data) == 0o700
    for name in ("accounts.db", "fix-sessions.db", "reports.db"):
        assert _mode(data / name) == 0o600, name


def test_m4_journal_segments_are_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        writer = JournalWriter(tmp_path / "journal")
        writer.append(1, 1, b"x")
        writer.flush()
        writer.close()
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "journal") == 0o700
    segments = list((tmp_path / "journal").iterdir())
    assert segments and all(_mode(s) == 0o600 for s in segments)


def test_l4_the_accounts_database_url_comes_from_the_environment(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "EXCHANGE_DB_URL": f"sqlite:///{elsewhere / 'accounts.db'}"}
    _exchange("migrate", "--data-dir", str(tmp_path / "var"), env=env)
    assert (elsewhere / "accounts.db").exists()
    assert not (tmp_path / "var" / "accounts.db").exists()


def test_l7_a_signing_key_others_can_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "gateway.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o644)
    with pytest.raises(InsecureKeyFileError, match="chmod 600"):
        load_or_create_key(key)
    key.chmod(0o600)
    assert load_or_create_key(key) == key.read_bytes()
