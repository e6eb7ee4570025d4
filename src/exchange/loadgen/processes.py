"""`--spawn`: an exchange of the generator's own (engine, gateway, FIX acceptor), out of the way.

The processes are the real ones, started by the launcher (exchange.launch)
on free loopback ports and a data directory of their own, with the calendar
always open and the gateway's rate limits raised, since one load generator
on one address is many users here, not an abuser. Their RSS is read from
/proc, for memory per connected user, and their CPU time, for the cost of
a request in CPU (steadier than wall-clock time on a shared machine).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import exchange
from exchange.config import ExchangeConfig, updated
from exchange.launch import Fleet, Service, on_free_ports, service
from exchange.services import migrate

log = logging.getLogger(__name__)

UNLIMITED = 1e9


@dataclass
class Spawned:
    data_dir: Path
    gateway: str
    engine_endpoint: str
    admin: tuple[str, str]
    fix_port: int | None = None
    fleet: Fleet = field(default_factory=Fleet)

    def pid(self, name: str) -> int | None:
        started = self.fleet.get(name)
        return started.pid if started is not None else None


def _admin(data_dir: Path) -> tuple[str, str]:
    """The spawned gateway's admin, kept in the data dir so a reused directory keeps it."""
    path = data_dir / "bench-admin.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return str(saved["clientId"]), str(saved["clientSecret"])
    admin = (f"admin_{secrets.token_hex(8)}", secrets.token_urlsafe(32))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"clientId": admin[0], "clientSecret": admin[1]}, f)
    return admin


def bench_config(data_dir: Path) -> ExchangeConfig:
    """An exchange of the generator's own: free ports, the market always open, no limit on
    one address (one load generator is many users here, not an abuser)."""
    config = on_free_ports(ExchangeConfig(), data_dir)
    return updated(config, {
        "engine.calendar": "always-open",
        **{f"gateway.{name}": UNLIMITED for name in (
            "rate_per_ip", "rate_per_client", "orders_per_account", "applications_per_ip",
            "tokens_per_ip")},
        "gateway.max_connections": 30_000,
    })  # fmt: skip


@dataclass(frozen=True)
class EngineOptions:
    """How the spawned engine runs: its durability and its interpreter."""

    durability: str = "write"
    python: str = "auto"
    """A path, or "auto": the compiled build if one is found, else this interpreter."""
    snapshot_every: int | None = None
    """Commands between snapshots (None: the engine's default)."""


def _stale(build: Path, source: Path) -> bool:
    """Whether a source file under `source` is newer than the compiled build's marker (the
    build would run older code than this checkout's: `make compiled` rebuilds it)."""
    marker = build / "bin" / ".installed"
    if not marker.exists():
        return True
    built = marker.stat().st_mtime
    return any(path.stat().st_mtime > built for path in source.rglob("*.py"))


def engine_python(choice: str) -> str:
    """The interpreter for the engine: `choice`, or for "auto" a `.venv-compiled` beside the
    checkout or beside the running environment (`make compiled`) that is not older than this
    checkout's code, else this one."""
    if choice != "auto":
        return choice
    package = Path(exchange.__file__).resolve().parent
    checkout = package.parents[1]
    for root in (checkout, Path(sys.prefix).resolve().parent):
        build = root / ".venv-compiled"
        candidate = build / "bin" / "python"
        if candidate.exists():
            if _stale(build, package):
                log.warning("%s is older than %s: the engine runs this interpreter", build, package)
                return sys.executable
            return str(candidate)
    return sys.executable


def is_compiled(python: str) -> bool:
    """Whether `python` imports the mypyc-compiled core (its environment's, no PYTHONPATH)."""
    probe = "import exchange.core.machine as m; print(m.__file__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if python == sys.executable:
        env = dict(os.environ)
    done = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    return done.returncode == 0 and not done.stdout.strip().endswith(".py")


def _under(python: str, started: Service) -> Service:
    """`started` run by `python`; another interpreter runs its own environment's code."""
    if python == sys.executable:
        return started
    env = {k: v for k, v in (started.env or os.environ).items() if k != "PYTHONPATH"}
    return dataclasses.replace(started, argv=[python, *started.argv[1:]], env=env)


def _engine(config: ExchangeConfig, options: EngineOptions) -> ExchangeConfig:
    changes: dict[str, object] = {"engine.durability": options.durability}
    if options.snapshot_every is not None:
        changes["engine.snapshot_every"] = options.snapshot_every
    return updated(config, changes)


def spawn_engine(data_dir: Path, options: EngineOptions) -> tuple[ExchangeConfig, Fleet]:
    """An engine alone (`--protocol engine`): its config (endpoint, keys) and its fleet."""
    config = _engine(bench_config(data_dir), options)
    migrate(config)
    fleet = Fleet()
    python = engine_python(options.python)
    try:
        fleet.start(_under(python, service("engine", config, log=data_dir / "engine.log")))
    except BaseException:
        fleet.stop()
        raise
    return config, fleet


def spawn(data_dir: Path, *, fix: bool, engine: EngineOptions | None = None) -> Spawned:
    config = _engine(bench_config(data_dir), engine or EngineOptions())
    migrate(config)  # schemas before services
    admin = _admin(data_dir)
    admin_env = {"EXCHANGE_ADMIN_CLIENT_ID": admin[0], "EXCHANGE_ADMIN_CLIENT_SECRET": admin[1]}
    spawned = Spawned(
        data_dir, f"http://127.0.0.1:{config.gateway.port}", config.engine.endpoint, admin
    )
    fleet = spawned.fleet
    try:
        python = engine_python((engine or EngineOptions()).python)
        fleet.start(_under(python, service("engine", config, log=data_dir / "engine.log")))
        fleet.start(service("gateway", config, env=admin_env, log=data_dir / "gateway.log"))
        if fix:
            fleet.start(service("fix", config, log=data_dir / "fix.log"))
            spawned.fix_port = config.fix.port
    except BaseException:
        stop(spawned)
        raise
    return spawned


def stop(spawned: Spawned) -> None:
    """SIGTERM, the engine last (the others follow it); SIGKILL after 30 s."""
    spawned.fleet.stop()


def _with_children(pid: int) -> list[int]:
    """`pid` and its children (a gateway's workers, `exchange gateway --workers`)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return [pid]
    return [pid, *(int(word) for word in text.split())]


def _rss_one(pid: int) -> int | None:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) * 1024
    except OSError:
        return None
    return None


def rss_bytes(pid: int | None) -> int | None:
    """Resident memory of a process and its children (Linux /proc), or None."""
    if pid is None:
        return None
    sizes = [_rss_one(p) for p in _with_children(pid)]
    return None if sizes[0] is None else sum(s or 0 for s in sizes)


def _cpu_one(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time a process and its children (the workers) have used so far
    (Linux /proc), or None."""
    if pid is None:
        return None
    times = [_cpu_one(p) for p in _with_children(pid)]
    return None if times[0] is None else sum(t or 0.0 for t in times)
