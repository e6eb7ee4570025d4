"""Fixtures shared by every test folder."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.journal import JournalReader
from tests.engine.test_server import EngineProcess


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineProcess]:
    """A real `exchange engine` process (always-open calendar) in a fresh data directory."""
    process = EngineProcess(tmp_path / "engine")
    process.start()
    journal = tmp_path / "engine" / "journal"
    deadline = time.monotonic() + 60
    while not journal.is_dir() or JournalReader(journal).head_seq() < 100:  # the listing
        assert process.proc is not None and process.proc.poll() is None, "the engine died"
        assert time.monotonic() < deadline, "the engine did not list the symbols"
        time.sleep(0.02)
    try:
        yield process
    finally:
        if process.proc is not None and process.proc.poll() is None:
            process.kill(signal.SIGTERM)
