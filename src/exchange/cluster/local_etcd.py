"""A 3-member etcd cluster on loopback, for tests, benchmarks and trying the cluster out.

Each member is a real `etcd` process (Debian package etcd-server) with its
own data directory and ports, tuned as measured in DESIGN.md section 6:
50 ms heartbeats, 500 ms election timeout, pre-vote, and a quota large
enough for the log window. Members can be killed and restarted one by one.
"""

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from exchange.engine.ports import free_ports

TUNING = [
    "--heartbeat-interval=50",
    "--election-timeout=500",
    "--pre-vote=true",
    "--snapshot-count=10000",
    "--grpc-keepalive-min-time=500ms",
    "--quota-backend-bytes=4294967296",
    "--max-request-bytes=16777216",
    "--auto-compaction-mode=revision",
    "--auto-compaction-retention=100000",
    "--logger=zap",
    "--log-level=error",
]


def etcd_binary() -> str:
    path = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    if path is None:
        raise FileNotFoundError("etcd is not installed (Debian: apt-get install etcd-server)")
    return path


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class LocalEtcd:
    root: Path
    size: int = 3
    members: list[Member] = field(default_factory=list)

    def __post_init__(self) -> None:
        ports = free_ports(2 * self.size)
        for index in range(self.size):
            name = f"etcd{index}"
            self.members.append(
                Member(name, ports[2 * index], ports[2 * index + 1], self.root / name)
            )

    @property
    def endpoints(self) -> str:
        """The client URLs, comma-separated: what `--cluster` takes."""
        return ",".join(member.client_url for member in self.members)

    def _initial_cluster(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    def start_member(self, member: Member, *, first: bool = False) -> None:
        member.data_dir.mkdir(parents=True, exist_ok=True)
        state = "new" if first and not (member.data_dir / "member").exists() else "existing"
        log = open(member.data_dir / "etcd.log", "ab")  # noqa: SIM115 - owned by the process
        member.process = subprocess.Popen(
            [
                etcd_binary(),
                f"--name={member.name}",
                f"--data-dir={member.data_dir / 'data'}",
                f"--listen-client-urls={member.client_url}",
                f"--advertise-client-urls={member.client_url}",
                f"--listen-peer-urls={member.peer_url}",
                f"--initial-advertise-peer-urls={member.peer_url}",
                f"--initial-cluster={self._initial_cluster()}",
                f"--initial-cluster-state={state}",
                "--initial-cluster-token=exchange",
                *TUNING,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def start(self) -> "LocalEtcd":
        for member in self.members:
            self.start_member(member, first=True)
        return self

    def kill(self, member: Member) -> None:
        if member.process is not None and member.process.poll() is None:
            member.process.send_signal(signal.SIGKILL)
            member.process.wait()

    def restart(self, member: Member) -> None:
        self.kill(member)
        self.start_member(member)

    def stop(self) -> None:
        for member in self.members:
            if member.process is not None and member.process.poll() is None:
                member.process.terminate()
        deadline = time.monotonic() + 1
        for member in self.members:
            if member.process is not None:
                try:
                    member.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    member.process.kill()
                    member.process.wait()

    def __enter__(self) -> "LocalEtcd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
