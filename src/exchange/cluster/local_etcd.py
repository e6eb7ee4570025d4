"""A 3-member etcd cluster on loopback, for tests, benchmarks and trying the cluster out.

Each member is a real `etcd` process (Debian package etcd-server) with its
own data directory and ports, tuned as measured in DESIGN.md section 6:
50 ms heartbeats, 500 ms election timeout, pre-vote, and a quota large
enough for the log window. Members can be killed and restarted one by one.

Secure by default (review C2): client and peer TLS from two throwaway CAs
(`certs.py`), client certificates required on both ports, and etcd's RBAC
on: a `root` user, one role with read-write on the cluster's key prefix
only, and one user per engine node holding that role. Passwords are random
and live in 0600 files under `<root>/tls/`, as do the keys. The client
certificates' common names (`<user>-client`) are not user names on
purpose: with `--client-cert-auth` etcd would take a certificate whose
common name is a user's as that user's login, and the password would
protect nothing. `secure=False` gives the plain members of before (the
benchmark's baseline).
"""

import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aetcd.rpc import auth_pb2
from aetcd.rpc import rpc_pb2 as pb

from exchange.cluster.certs import Authority
from exchange.cluster.etcd import Etcd, EtcdError, EtcdLogin, EtcdTls, prefix_end
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
    secure: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def client_url(self) -> str:
        return f"{'https' if self.secure else 'http'}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"{'https' if self.secure else 'http'}://127.0.0.1:{self.peer_port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class LocalEtcd:
    root: Path
    size: int = 3
    secure: bool = True
    """Client and peer TLS, client certificates required, and RBAC (see the module's doc)."""
    prefix: bytes = b"/exchange/"
    """The keys the node users may read and write (nothing else)."""
    users: list[str] = field(default_factory=lambda: ["node0", "node1", "node2"])
    """One etcd user per engine node, besides `root`."""
    rbac: bool = True
    """With `secure`: turn RBAC on (False: TLS only, to measure what each costs)."""
    token_ttl: int = 300
    """Seconds an unused simple auth token lives (etcd's --auth-token-ttl)."""
    members: list[Member] = field(default_factory=list)

    def __post_init__(self) -> None:
        ports = free_ports(2 * self.size)
        for index in range(self.size):
            name = f"etcd{index}"
            self.members.append(
                Member(name, ports[2 * index], ports[2 * index + 1], self.root / name, self.secure)
            )
        self.tls_dir = self.root / "tls"

    @property
    def endpoints(self) -> str:
        """The client URLs, comma-separated: what `--cluster` takes."""
        return ",".join(member.client_url for member in self.members)

    @property
    def ca_file(self) -> Path:
        """The CA a client trusts for the members' client port (`--etcd-ca`)."""
        return self.tls_dir / "client-ca.crt"

    def cert_file(self, user: str) -> Path:
        """`user`'s client certificate (`--etcd-cert`)."""
        return self.tls_dir / f"client-ca-{user}-client.crt"

    def key_file(self, user: str) -> Path:
        """Its private key, 0600 (`--etcd-key`)."""
        return self.tls_dir / f"client-ca-{user}-client.key"

    def password_file(self, user: str) -> Path:
        """`user`'s etcd password, 0600 (`--etcd-password-file`)."""
        return self.tls_dir / f"{user}.password"

    def tls(self, user: str) -> EtcdTls | None:
        if not self.secure:
            return None
        return EtcdTls.from_files(self.ca_file, self.cert_file(user), self.key_file(user))

    def login(self, user: str) -> EtcdLogin | None:
        if not (self.secure and self.rbac):
            return None
        return EtcdLogin(user, self.password_file(user).read_text())

    def client(self, user: str = "root", *, deadline: float = 2.0) -> Etcd:
        """A client logged in as `user` (root, or one of `users`), with that user's certificate."""
        return Etcd(self.endpoints, deadline=deadline, tls=self.tls(user), login=self.login(user))

    def _initial_cluster(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    def _make_certificates(self) -> None:
        if (self.tls_dir / "done").exists():
            return
        self.tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        clients, peers = Authority(self.tls_dir, "client-ca"), Authority(self.tls_dir, "peer-ca")
        for member in self.members:
            clients.issue(member.name, server=True, client=False)
            peers.issue(member.name, server=True, client=True)
        for user in ["root", *self.users]:
            clients.issue(f"{user}-client", server=False, client=True)
            path = self.password_file(user)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24))
        (self.tls_dir / "done").touch()

    def _tls_flags(self, member: Member) -> list[str]:
        if not self.secure:
            return []
        tls = self.tls_dir
        return [
            f"--cert-file={tls / f'client-ca-{member.name}.crt'}",
            f"--key-file={tls / f'client-ca-{member.name}.key'}",
            f"--trusted-ca-file={tls / 'client-ca.crt'}",
            "--client-cert-auth=true",
            f"--peer-cert-file={tls / f'peer-ca-{member.name}.crt'}",
            f"--peer-key-file={tls / f'peer-ca-{member.name}.key'}",
            f"--peer-trusted-ca-file={tls / 'peer-ca.crt'}",
            "--peer-client-cert-auth=true",
            f"--auth-token-ttl={self.token_ttl}",
        ]

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
                *self._tls_flags(member),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def start(self) -> "LocalEtcd":
        """Start every member; when secure, wait for a quorum and turn RBAC on (first start)."""
        if self.secure:
            self._make_certificates()
        for member in self.members:
            self.start_member(member, first=True)
        if self.secure and self.rbac and not (self.root / "rbac-enabled").exists():
            try:
                self._enable_rbac()
            except BaseException:
                self.stop()  # leave no member running behind a failed start
                raise
        return self

    def _enable_rbac(self, timeout: float = 30.0) -> None:
        """root with the root role, one read-write role on `prefix`, one user per node; auth on."""
        # No auth yet: any TLS client may. A long deadline: each user costs a bcrypt on a
        # member, and the 2 cores may be busy.
        etcd = Etcd(self.endpoints, deadline=10.0, tls=self.tls("root"))

        def call(method: Callable[..., Any], request: Any) -> None:
            """Retried through etcd trouble; "already exists" means an earlier try went through."""
            for attempt in range(10):
                try:
                    etcd.call(method, request)
                    return
                except EtcdError as error:
                    if "already exists" in (error.details() or ""):
                        return
                    if attempt == 9:
                        raise
                    time.sleep(0.2)

        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    etcd.put(b"/probe", b"1")
                    etcd.call(etcd.kv.DeleteRange, pb.DeleteRangeRequest(key=b"/probe"))
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            role = "exchange"
            permission = auth_pb2.Permission(
                permType=auth_pb2.Permission.READWRITE,
                key=self.prefix,
                range_end=prefix_end(self.prefix),
            )
            auth = etcd.auth
            for user in ["root", *self.users]:
                password = self.password_file(user).read_text()
                call(auth.UserAdd, pb.AuthUserAddRequest(name=user, password=password))
            call(auth.RoleAdd, pb.AuthRoleAddRequest(name="root"))
            call(auth.UserGrantRole, pb.AuthUserGrantRoleRequest(user="root", role="root"))
            call(auth.RoleAdd, pb.AuthRoleAddRequest(name=role))
            call(
                auth.RoleGrantPermission,
                pb.AuthRoleGrantPermissionRequest(name=role, perm=permission),
            )
            for user in self.users:
                call(auth.UserGrantRole, pb.AuthUserGrantRoleRequest(user=user, role=role))
            call(auth.AuthEnable, pb.AuthEnableRequest())
        finally:
            etcd.close()
        (self.root / "rbac-enabled").touch()

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
