"""`--spawn`: an exchange of the generator's own (engine, gateway, FIX acceptor), out of the way.

The processes are the real ones, started by the launcher (exchange.launch)
on free loopback ports and a data directory of their own, with the calendar
always open and the gateway's rate limits raised, since one load generator
on one address is many users here, not an abuser. Their RSS is read from
/proc, for memory per connected user, and their CPU time, for the cost of
a request in CPU (steadier than wall-clock time on a shared machine).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from exchange.config import ExchangeConfig, updated
from exchange.launch import Fleet, on_free_ports, service
from exchange.services import migrate

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


def spawn(data_dir: Path, *, fix: bool) -> Spawned:
    config = bench_config(data_dir)
    migrate(config)  # schemas before services
    admin = _admin(data_dir)
    admin_env = {"EXCHANGE_ADMIN_CLIENT_ID": admin[0], "EXCHANGE_ADMIN_CLIENT_SECRET": admin[1]}
    spawned = Spawned(
        data_dir, f"http://127.0.0.1:{config.gateway.port}", config.engine.endpoint, admin
    )
    fleet = spawned.fleet
    try:
        fleet.start(service("engine", config, log=data_dir / "engine.log"))
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
