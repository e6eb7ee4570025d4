"""The tests' processes, started as `exchange run` starts them: by the launcher, from a config.

`EngineProcess` is a real engine on free ports; `beside(engine, ...)` is the
config of a service next to it (its own data directory, the engine's
endpoints and journal, ports of its own); `start(kind, config)` starts that
service and returns once it is ready.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any, Protocol

from exchange.config import ExchangeConfig, updated
from exchange.engine.curve import ClientKeys, KeyDirectory
from exchange.launch import Service, on_free_ports, service

ROOT = Path(__file__).resolve().parents[1]


def engine_config(data_dir: Path, **changes: Any) -> ExchangeConfig:
    """An engine on free ports in `data_dir`, the market always open (tests trade any time)."""
    settings = {"engine.calendar": "always-open", "engine.snapshot_every": 2_000}
    settings.update({key.replace("__", "."): value for key, value in changes.items()})
    return updated(on_free_ports(ExchangeConfig(), data_dir), settings)


class EngineProcess:
    """An `exchange engine` process; restartable, killable (SIGKILL by default)."""

    def __init__(self, data_dir: Path, calendar: str = "always-open", **changes: Any) -> None:
        self.config = engine_config(data_dir, engine__calendar=calendar, **changes)
        self.data_dir = data_dir
        self.endpoint = self.config.engine.endpoint
        self.publish = self.config.engine.publish
        self.service: Service | None = None

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return None if self.service is None else self.service.process

    def start(self, *, ready: bool = False) -> None:
        self.service = service("engine", self.config, quiet=True, cwd=ROOT).start()
        if ready:
            self.service.wait_ready()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.service is not None
        self.service.signal(sig)
        assert self.service.wait(20) is not None

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()

    @property
    def keys_dir(self) -> Path:
        return self.config.keys_dir

    def keys(self, role: str = "admin") -> ClientKeys:
        """A client key of `role` for this engine (made now if the engine has not yet)."""
        return KeyDirectory(self.keys_dir).ensure().client(role)


class Engines(Protocol):
    """What a service needs of the engine it follows: one engine, or a cluster's nodes."""

    @property
    def endpoint(self) -> str: ...
    @property
    def publish(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...
    @property
    def keys_dir(self) -> Path: ...


def beside(engine: Engines, data_dir: Path, **changes: Any) -> ExchangeConfig:
    """A service's config next to `engine`: `data_dir` of its own, the engine's endpoints and
    journal, free ports; `changes` by setting, `gateway__port=...` for `gateway.port`."""
    settings: dict[str, Any] = {
        "keys": str(engine.keys_dir),
        "engine.endpoint": engine.endpoint,
        "engine.publish": engine.publish,
        "journal": str(engine.data_dir / "journal"),
    }
    settings.update({key.replace("__", "."): value for key, value in changes.items()})
    return updated(on_free_ports(ExchangeConfig(), data_dir), settings)


def start(
    kind: str,
    config: ExchangeConfig,
    *extra: str,
    env: dict[str, str] | None = None,
    quiet: bool = True,
) -> Service:
    """`kind` started from `config` (and `extra` options), once it is ready."""
    return service(kind, config, *extra, env=env, quiet=quiet, cwd=ROOT).start().wait_ready()
