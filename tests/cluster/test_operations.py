"""Cluster operations: followers write snapshots, and a node joins only its own cluster's etcd."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from exchange.cluster.etcd import Op
from exchange.cluster.identity import ID_FILE
from exchange.cluster.log import ReplicatedLog
from exchange.core import Side
from exchange.engine.client import EngineClient
from exchange.engine.recovery import rebuild
from exchange.launch.cluster import EngineNode, LocalCluster
from tests.cluster.conftest import require_etcd
from tests.cluster.load import check_state, converge
from tests.engine.test_server import order, setup_accounts

SNAPSHOT_EVERY = 300


def snapshots(node: EngineNode) -> list[Path]:
    return sorted((node.data_dir / "snapshots").glob("snapshot-*.snap"))


def exit_code(node: EngineNode, timeout: float = 30.0) -> int | None:
    assert node.process is not None
    deadline = time.monotonic() + timeout
    while node.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return node.process.poll()


async def trade(cluster: LocalCluster, *, chunks: int, setup: bool = False, tag: str = "o") -> None:
    """`chunks` x 100 limit orders, 100 at a time, crossing (accounts 1 and 2)."""
    client = EngineClient(cluster.endpoints, keys=cluster.keys(), timeout=0.3, deadline=60)
    try:
        if setup:
            await setup_accounts(client)
        for chunk in range(chunks):
            await asyncio.gather(*(
                client.submit(order(1 + i % 2, f"{tag}{chunk}-{i}", Side.BUY if i % 2 else
                                    Side.SELL, 5_400 + 10 * (i % 7)))
                for i in range(100)
            ))  # fmt: skip
    finally:
        await client.close()


def test_followers_snapshot_and_a_node_refuses_a_wiped_or_foreign_etcd(tmp_path: Path) -> None:
    require_etcd()
    cluster = LocalCluster(tmp_path, extra_args=[f"--snapshot-every={SNAPSHOT_EVERY}"]).start()
    try:
        asyncio.run(trade(cluster, chunks=12, setup=True))
        converge(cluster)
        leader = cluster.leader()
        followers = [node for node in cluster.nodes if node is not leader]
        deadline = time.monotonic() + 30
        while not all(snapshots(node) for node in followers):
            assert time.monotonic() < deadline, "the followers wrote no snapshot"
            time.sleep(0.2)
        for node in followers:  # each restores to its journal's state from its own snapshot
            from_snapshot = rebuild(node.data_dir)
            assert from_snapshot.snapshot_seq is not None and from_snapshot.snapshot_seq >= 300
            whole = rebuild(node.data_dir, use_snapshot=False)
            assert from_snapshot.last_seq == whole.last_seq
            assert from_snapshot.core.orders.keys() == whole.core.orders.keys()

        # Every node took the cluster's id from etcd.
        key = cluster.prefix.encode() + b"cluster-id"
        etcd = cluster.client()
        try:
            found = etcd.get(key)
            assert found is not None
            ids = {(node.data_dir / ID_FILE).read_text().strip() for node in cluster.nodes}
            assert ids == {found.value.decode()}
            node = followers[0]

            # A foreign etcd (another cluster's id): the node will not start.
            cluster.kill(node)
            etcd.put(key, b"another-cluster")
            cluster.start_node(node)
            assert exit_code(node) == 2
            # A wiped etcd (no id at all): neither.
            etcd.txn([], [Op.delete_range(key, key + b"\0")])
            cluster.start_node(node)
            assert exit_code(node) == 2
            # Its own cluster's etcd again: it joins and follows.
            etcd.put(key, found.value)
            cluster.start_node(node)
            assert exit_code(node, timeout=2.0) is None, "the node should run"
        finally:
            etcd.close()
        converge(cluster)
        log = (tmp_path / f"{node.name}.log").read_text()
        assert "will not join" in log and "a foreign etcd" in log and "a wiped or another" in log
    finally:
        cluster.stop()


def test_a_node_left_behind_the_log_window_catches_up_from_a_peer(tmp_path: Path) -> None:
    require_etcd()
    cluster = LocalCluster(tmp_path, extra_args=["--log-window=200", "--log-retain=0"]).start()
    try:
        asyncio.run(trade(cluster, chunks=2, setup=True))
        converge(cluster)
        behind = next(node for node in cluster.nodes if node is not cluster.leader())
        cluster.kill(behind)
        stood_at = rebuild(behind.data_dir).last_seq
        asyncio.run(trade(cluster, chunks=15, tag="p"))
        etcd = cluster.client()
        try:  # the leader trims the log to 200 commands behind it, about once a second
            log = ReplicatedLog(etcd, cluster.prefix.encode(), key=cluster.log_key)
            deadline = time.monotonic() + 30
            while log.read(1, limit=1)[0].first_seq <= stood_at + 1:
                assert time.monotonic() < deadline, "the log was not trimmed"
                time.sleep(0.2)
        finally:
            etcd.close()
        cluster.start_node(behind)
        converge(cluster, timeout=60)
        text = (tmp_path / f"{behind.name}.log").read_text()
        assert "catching up from a peer" in text and "copied seq" in text
        cluster.stop()
        check_state([node.data_dir for node in cluster.nodes], {})
    finally:
        cluster.stop()
