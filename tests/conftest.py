"""Fixtures shared by every test folder."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.test_server import EngineProcess


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineProcess]:
    """A real `exchange engine` process (always-open calendar) in a fresh data directory."""
    process = EngineProcess(tmp_path / "engine")
    process.start()
    try:
        yield process
    finally:
        if process.proc is not None and process.proc.poll() is None:
            process.kill(signal.SIGTERM)
