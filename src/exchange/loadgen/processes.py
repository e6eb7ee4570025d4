"""`--spawn`: an exchange of the generator's own (engine, gateway, FIX acceptor), out of the way.

The processes are the real ones (`python -m exchange engine|gateway|fix`)
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
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from exchange.engine.ports import free_ports
from exchange.migrations import migrate_data_dir
from exchange.readiness import wait_healthy, wait_listening

UNLIMITED = "1e9"


@dataclass
class Spawned:
    data_dir: Path
    gateway: str
    engine_endpoint: str
    admin: tuple[str, str]
    fix_port: int | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def pid(self, name: str) -> int | None:
        process = self.processes.get(name)
        return process.pid if process is not None else None


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


def spawn(data_dir: Path, *, fix: bool) -> Spawned:
    migrate_data_dir(data_dir)  # schemas before services
    requests, batches, port, fix_port = free_ports(4)
    endpoint, publish = f"tcp://127.0.0.1:{requests}", f"tcp://127.0.0.1:{batches}"
    admin = _admin(data_dir)
    spawned = Spawned(data_dir, f"http://127.0.0.1:{port}", endpoint, admin)
    python = [sys.executable, "-m", "exchange"]
    common = ["--data-dir", str(data_dir)]
    try:
        with open(data_dir / "engine.log", "ab") as log:
            spawned.processes["engine"] = subprocess.Popen(
                [*python, "engine", *common, "--endpoint", endpoint, "--publish", publish,
                 "--calendar", "always-open"],
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        env = {**os.environ, "EXCHANGE_ADMIN_CLIENT_ID": admin[0],
               "EXCHANGE_ADMIN_CLIENT_SECRET": admin[1]}  # fmt: skip
        with open(data_dir / "gateway.log", "ab") as log:
            spawned.processes["gateway"] = subprocess.Popen(
                [*python, "gateway", *common, "--port", str(port), "--engine", endpoint,
                 "--publish", publish, "--rate-per-ip", UNLIMITED, "--rate-per-client", UNLIMITED,
                 "--orders-per-account", UNLIMITED, "--applications-per-ip", UNLIMITED,
                 "--tokens-per-ip", UNLIMITED, "--max-connections", "30000"],
                env=env, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        wait_healthy(spawned.gateway, spawned.processes["gateway"])
        if fix:
            with open(data_dir / "fix.log", "ab") as log:
                spawned.processes["fix"] = subprocess.Popen(
                    [*python, "fix", *common, "--port", str(fix_port), "--engine", endpoint,
                     "--publish", publish],
                    stdout=subprocess.DEVNULL, stderr=log,
                )  # fmt: skip
            wait_listening(fix_port, spawned.processes["fix"])
            spawned.fix_port = fix_port
    except BaseException:
        stop(spawned)
        raise
    return spawned


def stop(spawned: Spawned) -> None:
    """SIGTERM, the engine last (the others follow it); SIGKILL after 30 s."""
    order = [n for n in ("fix", "gateway", "engine") if n in spawned.processes]
    for name in order:
        process = spawned.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_bytes(pid: int | None) -> int | None:
    """Resident memory of a process (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time a process has used so far (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
