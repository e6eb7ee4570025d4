"""CURVE keys for tests that stand in for the engine or only build a client (review C1)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from exchange.engine.curve import SERVER, ClientKeys, KeyDirectory


def key_directory(root: Path | None = None) -> KeyDirectory:
    """A key directory of its own (in `root`, else a new temporary one)."""
    return KeyDirectory((root or Path(tempfile.mkdtemp())) / "keys").ensure()


def keys(root: Path | None = None, role: str = "admin") -> ClientKeys:
    return key_directory(root).client(role)


def serve_as_engine(socket: Any, directory: KeyDirectory) -> None:
    """A test's fake engine socket as a CURVE server with the engine's key (no ZAP: any
    client key passes, which is what a fake needs)."""
    pair = directory.pair(SERVER)
    socket.curve_secretkey = pair.secret
    socket.curve_publickey = pair.public
    socket.curve_server = True
