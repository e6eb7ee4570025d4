"""The replicated log window: each batch durable on an etcd quorum before it is acknowledged.

The leader appends each batch's journal record under `<prefix>log/<first
seq>` in a transaction fenced by its epoch (the leader key must still have
the create revision it had when this leader won) and by the entry's
absence (so a retried append after a lost answer is recognised, never
doubled). Followers read the entries in key order, which is sequence order
(fixed-width keys), and write each to their own journal, byte for byte.

The window is trimmed behind the slowest node's reported progress, but
never kept longer than `max_entries`; a node that falls behind the window
must be restored from a peer.

Every entry is signed (review C2): an HMAC-SHA256 with the cluster's log
key (32 bytes, the same file on every node, never in etcd) over the
epoch, first seq, count and record. Followers check it before they
journal anything (`Follower.apply`), so whoever can write to etcd without
the key (a stolen etcd login, a backup restored by the wrong hands, an
etcd without RBAC) cannot put a batch into the nodes' journals; at most
they can block the log, which stops the cluster rather than corrupting it.
"""

import hashlib
import hmac
import struct

import msgspec

from exchange.cluster.etcd import Compare, Etcd, KeyValue, Op, prefix_end

KEY_BYTES = 32
_MAC_HEAD = struct.Struct(">8sQQQ")
_MAC_DOMAIN = b"xlog-v1\x00"


class Entry(msgspec.Struct, array_like=True):
    epoch: int
    first_seq: int
    count: int
    payload: bytes
    mac: bytes = b""
    """HMAC-SHA256(log key, epoch, first_seq, count, payload); empty: unsigned (refused)."""


def sign(key: bytes, epoch: int, first_seq: int, count: int, payload: bytes) -> bytes:
    """The MAC an entry must carry (fixed-width head, then the record: no ambiguity)."""
    mac = hmac.new(key, _MAC_HEAD.pack(_MAC_DOMAIN, epoch, first_seq, count), hashlib.sha256)
    mac.update(payload)
    return mac.digest()


def authentic(key: bytes, entry: Entry) -> bool:
    """The entry was made by a holder of `key` (constant-time comparison)."""
    expected = sign(key, entry.epoch, entry.first_seq, entry.count, entry.payload)
    return hmac.compare_digest(entry.mac, expected)


class FencedError(RuntimeError):
    """Another node leads now: this node must not acknowledge anything more."""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Entry)


class ReplicatedLog:
    def __init__(self, etcd: Etcd, prefix: bytes, *, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"the log key must have at least {KEY_BYTES} bytes")
        self.etcd = etcd
        self.signing_key = key
        self.leader_key = prefix + b"leader"
        self.log_prefix = prefix + b"log/"
        self.progress_prefix = prefix + b"progress/"

    def key(self, first_seq: int) -> bytes:
        return self.log_prefix + b"%020d" % first_seq

    def append(self, epoch: int, first_seq: int, count: int, payload: bytes) -> int:
        """Make the batch durable on an etcd quorum; its revision. Raises FencedError."""
        key = self.key(first_seq)
        mac = sign(self.signing_key, epoch, first_seq, count, payload)
        result = self.etcd.txn(
            [Compare.created_at(self.leader_key, epoch), Compare.absent(key)],
            [Op.put(key, encode(Entry(epoch, first_seq, count, payload, mac)))],
            [Op.get(key)],
        )
        if result.succeeded:
            return result.revision
        existing = result.ranges[0] if result.ranges else []
        if existing:
            entry = decode(existing[0])
            if entry.epoch == epoch and entry.payload == payload and entry.mac == mac:
                return existing[0].mod_revision  # our earlier attempt went through
        raise FencedError(f"epoch {epoch} is over: the append of seq {first_seq} was refused")

    def read(self, from_seq: int, limit: int = 100, *, serializable: bool = False) -> list[Entry]:
        """Entries from `from_seq` on, in sequence order.

        Linearizable by default (everything committed so far); `serializable`
        asks only the nearest member, which may lag: cheap for a follower's
        polling, never for a new leader's catch-up.
        """
        kvs = self.etcd.range(
            self.key(from_seq),
            prefix_end(self.log_prefix),
            limit=limit,
            serializable=serializable,
        )
        return [decode(kv) for kv in kvs]

    def first_seq(self) -> int | None:
        """Where the window starts now (None: empty)."""
        kvs = self.etcd.range(self.log_prefix, prefix_end(self.log_prefix), limit=1)
        return decode(kvs[0]).first_seq if kvs else None

    def report_progress(self, node: str, last_seq: int) -> None:
        self.etcd.put(self.progress_prefix + node.encode(), b"%d" % last_seq)

    def progress(self) -> dict[str, int]:
        kvs = self.etcd.range(self.progress_prefix, prefix_end(self.progress_prefix))
        return {kv.key[len(self.progress_prefix) :].decode(): int(kv.value) for kv in kvs}

    def trim(self, epoch: int, below_seq: int) -> int:
        """Delete the entries that start before `below_seq` (fenced); the store's revision."""
        result = self.etcd.txn(
            [Compare.created_at(self.leader_key, epoch)],
            [Op.delete_range(self.log_prefix, self.key(below_seq))],
        )
        if not result.succeeded:
            raise FencedError(f"epoch {epoch} is over: trim refused")
        return result.revision


def encode(entry: Entry) -> bytes:
    return _encoder.encode(entry)


def decode(kv: KeyValue) -> Entry:
    """The entry; a value that does not decode reads as an unsigned entry (refused)."""
    try:
        return _decoder.decode(kv.value)
    except msgspec.DecodeError:
        return Entry(0, 0, 0, kv.value)
