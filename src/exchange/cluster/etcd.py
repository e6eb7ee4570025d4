"""A small synchronous etcd v3 client: the calls the cluster needs, each with a deadline.

The gRPC stubs are the ones the `aetcd` package generates; we use them on a
plain (synchronous) gRPC channel that lists every member, so gRPC itself
moves to another member when one dies. Every call carries a deadline: an
engine must never hang on a lost etcd.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import grpc
from aetcd.rpc import rpc_pb2 as pb
from aetcd.rpc import rpc_pb2_grpc as stubs

DEFAULT_DEADLINE = 2.0

EtcdError = grpc.RpcError
"""Any failed call: unreachable, deadline exceeded, no leader, ..."""


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
    def __init__(self, endpoints: str, *, deadline: float = DEFAULT_DEADLINE) -> None:
        self.endpoints = endpoints
        self.deadline = deadline
        self.channel = grpc.insecure_channel(
            _target(endpoints),
            options=[
                ("grpc.lb_policy_name", "round_robin"),
                ("grpc.initial_reconnect_backoff_ms", 50),
                ("grpc.max_reconnect_backoff_ms", 500),
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ],
        )
        self.kv = stubs.KVStub(self.channel)
        self.leases = stubs.LeaseStub(self.channel)
        self.maintenance = stubs.MaintenanceStub(self.channel)

    def get(self, key: bytes, *, serializable: bool = False) -> KeyValue | None:
        request = pb.RangeRequest(key=key, serializable=serializable)
        response = self.kv.Range(request, timeout=self.deadline)
        return _kv(response.kvs[0]) if response.kvs else None

    def range(
        self, start: bytes, end: bytes, *, limit: int = 0, serializable: bool = False
    ) -> list[KeyValue]:
        """Keys in [start, end) in key order (at most `limit`, 0: all)."""
        response = self.kv.Range(
            pb.RangeRequest(key=start, range_end=end, limit=limit, serializable=serializable),
            timeout=self.deadline,
        )
        return [_kv(raw) for raw in response.kvs]

    def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        response = self.kv.Put(
            pb.PutRequest(key=key, value=value, lease=lease), timeout=self.deadline
        )
        return int(response.header.revision)

    def txn(self, compare: list[Any], success: list[Any], failure: list[Any] = ()) -> TxnResult:  # type: ignore[assignment]
        response = self.kv.Txn(
            pb.TxnRequest(compare=compare, success=success, failure=list(failure)),
            timeout=self.deadline,
        )
        ranges = [
            [_kv(raw) for raw in op.response_range.kvs]
            for op in response.responses
            if op.WhichOneof("response") == "response_range"
        ]
        return TxnResult(bool(response.succeeded), int(response.header.revision), ranges)

    def compact(self, revision: int) -> None:
        self.kv.Compact(pb.CompactionRequest(revision=revision), timeout=self.deadline)

    def grant(self, ttl: int) -> int:
        response = self.leases.LeaseGrant(pb.LeaseGrantRequest(TTL=ttl), timeout=self.deadline)
        if response.error:
            raise RuntimeError(f"etcd refused a lease: {response.error}")
        return int(response.ID)

    def keep_alive(self, lease: int) -> int:
        """Renew `lease` once; its remaining TTL in seconds (0 or less: it has expired)."""
        responses: Iterator[Any] = self.leases.LeaseKeepAlive(
            iter([pb.LeaseKeepAliveRequest(ID=lease)]), timeout=self.deadline
        )
        for response in responses:
            return int(response.TTL)
        return 0

    def revoke(self, lease: int) -> None:
        self.leases.LeaseRevoke(pb.LeaseRevokeRequest(ID=lease), timeout=self.deadline)

    def status(self, endpoint: str) -> Any:
        """One member's status (its leader, raft term, db size), asked of that member only."""
        with grpc.insecure_channel(_target(endpoint)) as channel:
            return stubs.MaintenanceStub(channel).Status(pb.StatusRequest(), timeout=self.deadline)

    def close(self) -> None:
        self.channel.close()
