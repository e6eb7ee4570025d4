"""A whole cluster on one machine: 3 etcd members and N engine nodes as real processes.

For tests, benchmarks and trying the cluster out: each engine node has its
own data directory and ports, standing in for a machine, and can be killed
(SIGKILL), paused (SIGSTOP/SIGCONT) and restarted on its own.

Secure by default, as a deployment should be (review C2): etcd with client
and peer TLS and RBAC (`LocalEtcd`), each node with its own client
certificate, etcd user and password file, and one log key shared by the
nodes. `secure=False` runs plain etcd (the benchmark's baseline); the log
is signed either way.
"""

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from exchange.accounts.keyfile import load_or_create_key
from exchange.cluster.etcd import Etcd
from exchange.cluster.lease import decode_info
from exchange.cluster.local_etcd import LocalEtcd
from exchange.cluster.log import KEY_BYTES
from exchange.config import ExchangeConfig, updated
from exchange.engine.curve import ClientKeys, KeyDirectory
from exchange.engine.ports import free_ports
from exchange.launch.launcher import service


@dataclass
class EngineNode:
    name: str
    data_dir: Path
    endpoint: str
    publish: str
    journal_service: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)


@dataclass
class LocalCluster:
    root: Path
    nodes_count: int = 3
    prefix: str = "/exchange/"
    extra_args: list[str] = field(default_factory=list)
    secure: bool = True
    """etcd with TLS and RBAC, each node with its own certificate and etcd user."""
    etcd: LocalEtcd = field(init=False)
    nodes: list[EngineNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [f"node{index}" for index in range(self.nodes_count)]
        self.etcd = LocalEtcd(
            self.root / "etcd", secure=self.secure, prefix=self.prefix.encode(), users=names
        )
        self.log_key_file = self.root / "log.key"
        ports = free_ports(3 * self.nodes_count)
        for index in range(self.nodes_count):
            requests, batches, journal = ports[3 * index : 3 * index + 3]
            self.nodes.append(
                EngineNode(
                    f"node{index}",
                    self.root / f"node{index}",
                    f"tcp://127.0.0.1:{requests}",
                    f"tcp://127.0.0.1:{batches}",
                    f"tcp://127.0.0.1:{journal}",
                )
            )

    @property
    def keys_dir(self) -> Path:
        """The engine's CURVE keys, one copy shared by every node (as on real machines)."""
        return self.root / "keys"

    def keys(self, role: str = "admin") -> ClientKeys:
        """A client key of `role` for the cluster's engines."""
        return KeyDirectory(self.keys_dir).ensure().client(role)

    @property
    def endpoints(self) -> str:
        """Every node's request endpoint, comma-separated: what gateways take as `--engine`."""
        return ",".join(node.endpoint for node in self.nodes)

    @property
    def publishers(self) -> str:
        """Every node's batch feed, comma-separated: what gateways take as `--publish`."""
        return ",".join(node.publish for node in self.nodes)

    @property
    def journal_services(self) -> str:
        """Every node's journal service, comma-separated: where a remote feed fills gaps."""
        return ",".join(node.journal_service for node in self.nodes)

    @property
    def log_key(self) -> bytes:
        return load_or_create_key(self.log_key_file, KEY_BYTES)

    def node_config(self, node: EngineNode) -> ExchangeConfig:
        """The config a node runs with: its data directory and ports, the cluster's etcd (its
        own certificate, user and password file when secure), the shared log and CURVE keys."""
        settings: dict[str, object] = {
            "data_dir": str(node.data_dir),
            "keys": str(self.keys_dir),
            "engine.endpoint": node.endpoint,
            "engine.publish": node.publish,
            "engine.journal_service": node.journal_service,
            "engine.calendar": "always-open",
            "cluster.etcd": self.etcd.endpoints,
            "cluster.node": node.name,
            "cluster.prefix": self.prefix,
            "cluster.log_key": str(self.log_key_file),
        }
        if self.secure:
            etcd, user = self.etcd, node.name
            settings |= {
                "cluster.etcd_ca": str(etcd.ca_file),
                "cluster.etcd_cert": str(etcd.cert_file(user)),
                "cluster.etcd_key": str(etcd.key_file(user)),
                "cluster.etcd_user": user,
                "cluster.etcd_password_file": str(etcd.password_file(user)),
            }
        return updated(ExchangeConfig(), settings)

    def start_node(self, node: EngineNode) -> None:
        started = service(
            "engine",
            self.node_config(node),
            *self.extra_args,
            name=node.name,
            env={"PYTHONUNBUFFERED": "1"},
            log=self.root / f"{node.name}.log",
        )
        node.process = started.start().process

    def start(self) -> "LocalCluster":
        self.root.mkdir(parents=True, exist_ok=True)
        load_or_create_key(self.log_key_file, KEY_BYTES)
        self.etcd.start()
        for node in self.nodes:
            self.start_node(node)
        return self

    def client(self, user: str = "root") -> Etcd:
        """An etcd client (root: may read and write anything)."""
        return self.etcd.client(user)

    def leader(self, timeout: float = 30.0) -> EngineNode:
        """The node holding the leader key (waits for one)."""
        etcd = self.client()
        key = self.prefix.encode() + b"leader"
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    kv = etcd.get(key)
                except Exception:
                    kv = None
                info = decode_info(kv.value) if kv else None
                if info is not None and info.authentic(self.log_key):  # not a forged one
                    return next(node for node in self.nodes if node.name == info.node)
                time.sleep(0.02)
        finally:
            etcd.close()
        raise TimeoutError("no engine leads")

    def kill(self, node: EngineNode) -> None:
        node.signal(signal.SIGKILL)
        if node.process is not None:
            node.process.wait()

    def stop(self) -> None:
        for node in self.nodes:
            node.signal(signal.SIGCONT)
            node.signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()
        self.etcd.stop()

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
