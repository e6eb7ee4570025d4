"""The leader's lease and fencing epoch, held in etcd.

A node campaigns by creating the leader key bound to its own lease, in a
transaction that succeeds only if the key is absent. The key's create
revision is the leader's fencing epoch: it only grows, and every append the
leader makes is conditioned on the key still having that create revision
(see `ReplicatedLog.append`). When the lease expires (the leader died, was
paused, or lost etcd) etcd deletes the key; the next leader's key has a
higher create revision, so nothing the old leader sends afterwards can
succeed. A thread renews the lease; once a renewal finds it expired, `lost`
is set and the engine stops acknowledging.

The key's value (who leads, where) is signed with the cluster's log key
(review C2). Nothing routes by it: gateways send to the node endpoints
they were configured with, and a node's epoch is the key's create
revision, which etcd assigns. What a forged value could still do is squat
the key, so no node campaigns; so a node that finds a value without the
cluster's MAC deletes that key (only that creation of it) and campaigns.
"""

import contextlib
import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass

import msgspec

from exchange.cluster.etcd import Compare, Etcd, EtcdError, EtcdLoginError, Op

log = logging.getLogger(__name__)


class LeaderInfo(msgspec.Struct):
    node: str
    endpoint: str
    publish: str
    mac: bytes = b""
    """HMAC-SHA256(log key, node, endpoint, publish); empty: unsigned."""

    def signature(self, key: bytes) -> bytes:
        fields = msgspec.json.encode([self.node, self.endpoint, self.publish])
        return hmac.new(key, b"leader-v1\x00" + fields, hashlib.sha256).digest()

    def signed(self, key: bytes) -> "LeaderInfo":
        return msgspec.structs.replace(self, mac=self.signature(key))

    def authentic(self, key: bytes) -> bool:
        return hmac.compare_digest(self.mac, self.signature(key))


def decode_info(value: bytes) -> LeaderInfo:
    """The leader key's value; one that does not decode reads as unsigned (so: forged)."""
    try:
        return msgspec.json.decode(value, type=LeaderInfo)
    except msgspec.DecodeError:
        return LeaderInfo("?", "", "")


@dataclass
class Leadership:
    epoch: int
    lease: int


class LeaderLease:
    def __init__(
        self, etcd: Etcd, key: bytes, info: LeaderInfo, ttl: int, *, signing_key: bytes = b""
    ) -> None:
        self.etcd = etcd
        self.key = key
        self.info = info.signed(signing_key) if signing_key else info
        self.ttl = ttl
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lease = 0

    def current(self, *, serializable: bool = False) -> tuple[LeaderInfo, int] | None:
        """The current leader and its epoch, if any (`serializable`: as the nearest member sees)."""
        kv = self.etcd.get(self.key, serializable=serializable)
        if kv is None:
            return None
        return decode_info(kv.value), kv.create_revision

    def evict(self, epoch: int) -> bool:
        """Delete the leader key if it is still the one created at `epoch` (a forged one)."""
        result = self.etcd.txn(
            [Compare.created_at(self.key, epoch)], [Op.delete_range(self.key, self.key + b"\x00")]
        )
        return result.succeeded

    def campaign(self) -> Leadership | None:
        """Become the leader if there is none; None when another node leads."""
        if self.lease == 0 or self.lost.is_set():
            self._stop_renewing()
            self.lease = self.etcd.grant(self.ttl)
            self._start_renewing()
        result = self.etcd.txn(
            [Compare.absent(self.key)],
            [Op.put(self.key, msgspec.json.encode(self.info), self.lease)],
        )
        if not result.succeeded:
            return None
        if self.lost.is_set():  # the lease expired before the key was created with it
            return None
        return Leadership(epoch=result.revision, lease=self.lease)

    def _start_renewing(self) -> None:
        self.lost.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew, name="lease-renewal", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        interval = self.ttl / 4
        lease = self.lease
        while not self._stop.wait(interval):
            try:
                remaining = self.etcd.keep_alive(lease)
            except (EtcdError, EtcdLoginError) as error:
                log.warning(
                    "lease renewal failed: %s", error.code() if hasattr(error, "code") else error
                )
                continue  # the fenced appends decide; we keep trying until etcd says expired
            if remaining <= 0:
                log.warning("lease %x expired", lease)
                self.lost.set()
                return

    def _stop_renewing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    def resign(self) -> None:
        """Stop renewing; revoke the lease (deleting the leader key) if etcd answers."""
        self._stop_renewing()
        if self.lease:
            with contextlib.suppress(EtcdError):  # unanswered: it expires by itself
                self.etcd.revoke(self.lease)
        self.lease = 0
        self.lost.set()
