"""What `exchange bench` was asked for: its options as one record (cli.py fills it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class BenchConfig:
    users: int = 100
    rate: float = 500.0
    seconds: float = 10.0
    protocol: str = "rest"
    gateway: str = "http://127.0.0.1:8080"
    fix: str = "127.0.0.1:9878"
    spawn: bool = False
    data_dir: Path | None = None
    seed: int = 1
    out: Path = Path("bench/out")
    market_share: float = 0.15
    cancel_share: float = 0.20
    marketable_share: float = 0.10
    arrivals: str = "poisson"
    makers: int = 2
    maker_levels: int = 3
    maker_quantity: int = 50_000
    connections: int = 256
    timeout: float = 10.0
    provision: str = "auto"
    streams: bool = True
    cache: bool = True
    admin_id: str | None = None
    admin_secret: str | None = None
    gateway_pid: int | None = None
    progress: bool = True
    name: str = "loadgen"
    concurrency: int = 16
    processes: int = 1
    """Generator processes, each driving 1/N of the users and of the rate (workers.py)."""
    durability: str = "write"
    """The spawned engine's."""
    engine_python: str = "auto"
    """The spawned engine's interpreter: a path, or auto (the compiled build if found)."""
    window: int = 2_000
    """--protocol engine with --rate 0: requests in flight per process (closed loop)."""
    snapshot_every: int | None = None
    """--protocol engine: the engine's snapshot interval (None: about halfway through the run,
    at most every 1,000,000 commands)."""
