"""The cluster's identity: a node joins only the etcd of its own cluster.

To a node, a wiped etcd (restored from nothing, or a new one deployed at the
old one's address) or a foreign one (another cluster's, a test's) looks like
an empty log: it would campaign and lead from its own journal, and the
other nodes, or the gateways, would follow a history that is not theirs.
So a cluster has an id, made by the first node that meets an etcd without
one and stored both in etcd (`<prefix>cluster-id`, created only if absent)
and in every node's data directory (`cluster-id`). A node whose data
directory holds an id starts only against an etcd holding the same one.

A data directory without an id (new, or from before ids) takes etcd's, or
makes the cluster's if etcd has none. To move a cluster to a new etcd on
purpose, an operator deletes the nodes' `cluster-id` files.
"""

import logging
import os
import secrets
from pathlib import Path

from exchange.cluster.etcd import Compare, Etcd, Op

log = logging.getLogger(__name__)

ID_FILE = "cluster-id"


class ClusterIdMismatchError(RuntimeError):
    """This node's data directory belongs to another cluster than the etcd it was given."""


def _write(path: Path, value: str) -> None:
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def join(etcd: Etcd, prefix: bytes, data_dir: Path) -> str:
    """The cluster's id, checked against (or written to) this node's data directory."""
    key = prefix + b"cluster-id"
    path = data_dir / ID_FILE
    mine = path.read_text().strip() if path.exists() else None
    found = etcd.get(key)
    theirs = found.value.decode() if found is not None else None
    if theirs is None and mine is not None:
        raise ClusterIdMismatchError(
            f"this data directory belongs to cluster {mine}, but etcd holds no cluster id under "
            f"{prefix.decode()!r}: a wiped or another etcd. Restore etcd, or delete "
            f"{path} on every node to start the cluster on this etcd."
        )
    if theirs is None:
        made = secrets.token_hex(16)
        result = etcd.txn([Compare.absent(key)], [Op.put(key, made.encode())], [Op.get(key)])
        theirs = made if result.succeeded else result.ranges[0][0].value.decode()
        if result.succeeded:
            log.info("made the cluster's id %s", theirs)
    if mine is not None and mine != theirs:
        raise ClusterIdMismatchError(
            f"this data directory belongs to cluster {mine}, etcd's under {prefix.decode()!r} "
            f"to cluster {theirs}: a foreign etcd (or the wrong --prefix)"
        )
    if mine is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        _write(path, theirs)
    return theirs
