"""A small synchronous etcd v3 client: the calls the cluster needs, each with a deadline.

The gRPC stubs are the ones the `aetcd` package generates; we use them on a
synchronous gRPC channel that lists every member, so gRPC itself
moves to another member when one dies. Every call carries a deadline: an
engine must never hang on a lost etcd.

Security (review C2): with `EtcdTls` the channel is TLS, verified against
the given CA, and presents a client certificate (etcd's
`--client-cert-auth` refuses a client without one). With `EtcdLogin` the
client authenticates as an etcd user (the Auth API's `Authenticate`) and
sends the token as the `token` metadata of every call; when a member
refuses the token (it expired, the member restarted and lost its simple
tokens, or the auth store changed) the client authenticates again and
retries that call once. A login etcd rejects (wrong password, unknown
user, auth not enabled) raises `EtcdLoginError`: retrying cannot help.
"""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
from aetcd.rpc import rpc_pb2 as pb
from aetcd.rpc import rpc_pb2_grpc as stubs

from exchange.accounts.keyfile import read_key

DEFAULT_DEADLINE = 2.0

EtcdError = grpc.RpcError
"""Any failed call: unreachable, deadline exceeded, no leader, ..."""


class EtcdLoginError(RuntimeError):
    """etcd refused this client's user or password (or does not have auth enabled)."""


@dataclass(frozen=True)
class EtcdTls:
    """The client side of etcd's TLS: whom to trust, and the certificate to show."""

    ca: bytes | None = None
    """PEM of the CA that signed the members' certificates (None: the system's roots)."""
    cert: bytes | None = None
    key: bytes | None = field(default=None, repr=False)
    server_name: str | None = None
    """The name every member's certificate must carry (None: the first endpoint's host)."""

    @classmethod
    def from_files(cls, ca: Path | None, cert: Path | None, key: Path | None) -> "EtcdTls":
        if (cert is None) != (key is None):
            raise ValueError("an etcd client certificate needs its key, and a key its certificate")
        return cls(
            ca=ca.read_bytes() if ca else None,
            cert=cert.read_bytes() if cert else None,
            key=read_key(key, 1) if key else None,  # refused if others can read it
        )

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.ca, self.key, self.cert)


@dataclass(frozen=True)
class EtcdLogin:
    """An etcd user and its password (read from a file or the environment, never argv)."""

    user: str
    password: str = field(repr=False)


_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
_TOKEN_REFUSED = ("invalid auth token", "auth old revision", "user name is empty")


def _token_refused(error: grpc.RpcError) -> bool:
    """The member did not accept our token (or got none): authenticating again may help."""
    code = error.code() if callable(getattr(error, "code", None)) else None
    details = (error.details() if callable(getattr(error, "details", None)) else "") or ""
    return code == grpc.StatusCode.UNAUTHENTICATED or any(t in details for t in _TOKEN_REFUSED)


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with `prefix`."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


def _target(endpoints: str) -> str:
    hosts = []
    for url in endpoints.split(","):
        parts = urlsplit(url.strip() if "//" in url else f"http://{url.strip()}")
        hosts.append(f"{parts.hostname}:{parts.port or 2379}")
    return "ipv4:" + ",".join(hosts)


@dataclass(frozen=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int


def _kv(raw: Any) -> KeyValue:
    return KeyValue(raw.key, raw.value, raw.create_revision, raw.mod_revision, raw.lease)


@dataclass(frozen=True)
class TxnResult:
    succeeded: bool
    revision: int
    """The store's revision after the transaction."""
    ranges: list[list[KeyValue]]
    """What each range operation of the branch that ran returned."""


class Compare:
    """Conditions for `txn` (the subset the cluster needs)."""

    @staticmethod
    def absent(key: bytes) -> Any:
        return pb.Compare(
            key=key, target=pb.Compare.CREATE, result=pb.Compare.EQUAL, create_revision=0
        )

    @staticmethod
    def created_at(key: bytes, revision: int) -> Any:
        return pb.Compare(
            key=key, target=pb.Compare.CREATE, result=pb.Compare.EQUAL, create_revision=revision
        )


class Op:
    @staticmethod
    def put(key: bytes, value: bytes, lease: int = 0) -> Any:
        return pb.RequestOp(request_put=pb.PutRequest(key=key, value=value, lease=lease))

    @staticmethod
    def get(key: bytes) -> Any:
        return pb.RequestOp(request_range=pb.RangeRequest(key=key))

    @staticmethod
    def delete_range(key: bytes, end: bytes) -> Any:
        return pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=key, range_end=end))


class Etcd:
    def __init__(
        self,
        endpoints: str,
        *,
        deadline: float = DEFAULT_DEADLINE,
        tls: EtcdTls | None = None,
        login: EtcdLogin | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.deadline = deadline
        self.tls = tls
        self.login = login
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self.channel = self._channel(endpoints)
        self.kv = stubs.KVStub(self.channel)
        self.leases = stubs.LeaseStub(self.channel)
        self.maintenance = stubs.MaintenanceStub(self.channel)
        self.auth = stubs.AuthStub(self.channel)

    def _channel(self, endpoints: str) -> grpc.Channel:
        options: list[tuple[str, Any]] = [
            ("grpc.lb_policy_name", "round_robin"),
            ("grpc.initial_reconnect_backoff_ms", 50),
            ("grpc.max_reconnect_backoff_ms", 500),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ]
        if self.tls is None:
            return grpc.insecure_channel(_target(endpoints), options=options)
        first = endpoints.split(",", maxsplit=1)[0].strip()
        host = urlsplit(first if "//" in first else f"https://{first}").hostname
        name = self.tls.server_name or host
        if name:  # one name for the whole channel: gRPC checks every member against it
            options.append(("grpc.ssl_target_name_override", name))
        return grpc.secure_channel(_target(endpoints), self.tls.credentials(), options=options)

    def _authenticate(self, refused: str | None) -> str:
        """A token; a new one if `refused` is the one we hold (another thread may have renewed)."""
        assert self.login is not None
        with self._token_lock:
            if self._token is not None and self._token != refused:
                return self._token
            request = pb.AuthenticateRequest(name=self.login.user, password=self.login.password)
            try:
                response = self.auth.Authenticate(request, timeout=self.deadline)
            except grpc.RpcError as error:
                if error.code() in _TRANSIENT:  # etcd unreachable: an ordinary EtcdError
                    raise
                raise EtcdLoginError(
                    f"etcd refused the login of {self.login.user!r}: {error.details()}"
                ) from error
            self._token = str(response.token)
            return self._token

    def call(self, method: Callable[..., Any], request: Any) -> Any:
        """One unary call with the deadline and our token; once more with a new token if refused."""
        if self.login is None:
            return method(request, timeout=self.deadline)
        token = self._token or self._authenticate(None)
        try:
            return method(request, timeout=self.deadline, metadata=(("token", token),))
        except grpc.RpcError as error:
            if not _token_refused(error):
                raise
        token = self._authenticate(token)
        return method(request, timeout=self.deadline, metadata=(("token", token),))

    def get(self, key: bytes, *, serializable: bool = False) -> KeyValue | None:
        request = pb.RangeRequest(key=key, serializable=serializable)
        response = self.call(self.kv.Range, request)
        return _kv(response.kvs[0]) if response.kvs else None

    def range(
        self, start: bytes, end: bytes, *, limit: int = 0, serializable: bool = False
    ) -> list[KeyValue]:
        """Keys in [start, end) in key order (at most `limit`, 0: all)."""
        response = self.call(
            self.kv.Range,
            pb.RangeRequest(key=start, range_end=end, limit=limit, serializable=serializable),
        )
        return [_kv(raw) for raw in response.kvs]

    def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        response = self.call(self.kv.Put, pb.PutRequest(key=key, value=value, lease=lease))
        return int(response.header.revision)

    def txn(self, compare: list[Any], success: list[Any], failure: list[Any] = ()) -> TxnResult:  # type: ignore[assignment]
        response = self.call(
            self.kv.Txn, pb.TxnRequest(compare=compare, success=success, failure=list(failure))
        )
        ranges = [
            [_kv(raw) for raw in op.response_range.kvs]
            for op in response.responses
            if op.WhichOneof("response") == "response_range"
        ]
        return TxnResult(bool(response.succeeded), int(response.header.revision), ranges)

    def compact(self, revision: int) -> None:
        self.call(self.kv.Compact, pb.CompactionRequest(revision=revision))

    def grant(self, ttl: int) -> int:
        response = self.call(self.leases.LeaseGrant, pb.LeaseGrantRequest(TTL=ttl))
        if response.error:
            raise RuntimeError(f"etcd refused a lease: {response.error}")
        return int(response.ID)

    def keep_alive(self, lease: int) -> int:
        """Renew `lease` once; its remaining TTL in seconds (0 or less: it has expired)."""

        def renew(request: Any, **kwargs: Any) -> int:
            responses: Iterator[Any] = self.leases.LeaseKeepAlive(iter([request]), **kwargs)
            for response in responses:
                return int(response.TTL)
            return 0

        return int(self.call(renew, pb.LeaseKeepAliveRequest(ID=lease)))

    def revoke(self, lease: int) -> None:
        self.call(self.leases.LeaseRevoke, pb.LeaseRevokeRequest(ID=lease))

    def status(self, endpoint: str) -> Any:
        """One member's status (its leader, raft term, db size), asked of that member only."""
        with self._channel(endpoint) as channel:
            return stubs.MaintenanceStub(channel).Status(pb.StatusRequest(), timeout=self.deadline)

    def close(self) -> None:
        self.channel.close()
