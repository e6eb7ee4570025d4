"""Review C2: etcd replication with TLS, RBAC and signed log entries, against real etcd members.

The members run with client and peer TLS and client certificates required
(`LocalEtcd`), RBAC on (root, and node users that may read and write under
the test prefix only), and the log's entries carry an HMAC that followers
check before they journal anything; the leader key's value is signed too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import msgspec
import pytest

from exchange.cluster.etcd import Etcd, EtcdError, EtcdLogin, EtcdLoginError, EtcdTls, Op
from exchange.cluster.follower import Follower, ForgedEntryError
from exchange.cluster.lease import LeaderInfo, LeaderLease, decode_info
from exchange.cluster.local_etcd import LocalEtcd
from exchange.cluster.log import Entry, ReplicatedLog, encode, sign
from exchange.core import Command, Deposit, OpenAccount, OpenAccountV1
from exchange.engine.client import EngineClient, EngineUnavailableError
from exchange.engine.ports import free_ports
from exchange.engine.server import EngineConfig
from exchange.journal import JournalReader
from exchange.launch.cluster import LocalCluster
from exchange.sequencer import Batch, encode_batch
from tests.cluster.conftest import LOG_KEY, PREFIX, require_etcd, wait_writable
from tests.cluster.load import converge, journal_bytes

OTHER_KEY = bytes(range(100, 132))


def refused(call: object) -> grpc.StatusCode:
    """The status code etcd (or the TLS handshake) refused `call` with."""
    with pytest.raises(EtcdError) as raised:
        call()  # type: ignore[operator]
    return raised.value.code()  # type: ignore[no-any-return]


def test_c2_etcd_refuses_a_client_without_certificate(etcd_cluster: LocalEtcd) -> None:
    wait_writable(etcd_cluster.client("node0"), key=PREFIX + b"probe")
    ca = etcd_cluster.ca_file.read_bytes()
    # The right CA and the right login, but no client certificate: the handshake fails.
    no_certificate = Etcd(
        etcd_cluster.endpoints, tls=EtcdTls(ca=ca), login=etcd_cluster.login("node0")
    )
    # No TLS at all: a plain-text client cannot talk to a TLS port.
    plain = Etcd(etcd_cluster.endpoints, deadline=1.0)
    try:
        assert refused(lambda: no_certificate.get(PREFIX + b"probe")) in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
        )
        assert refused(lambda: plain.get(PREFIX + b"probe")) in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
        )
    finally:
        no_certificate.close()
        plain.close()


def test_c2_a_client_refuses_members_whose_certificate_lacks_the_server_name(
    etcd_cluster: LocalEtcd,
) -> None:
    wait_writable(etcd_cluster.client("node0"), key=PREFIX + b"probe")
    tls = etcd_cluster.tls("node0")
    assert tls is not None
    login = etcd_cluster.login("node0")
    named = Etcd(etcd_cluster.endpoints, tls=replace(tls, server_name="localhost"), login=login)
    impostor = Etcd(
        etcd_cluster.endpoints, tls=replace(tls, server_name="etcd.example"), login=login
    )
    try:
        assert named.get(PREFIX + b"probe") is not None  # the certificates name localhost
        assert refused(lambda: impostor.get(PREFIX + b"probe")) in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
        )
    finally:
        named.close()
        impostor.close()


def test_c2_etcd_refuses_a_client_without_credentials(etcd_cluster: LocalEtcd) -> None:
    node = etcd_cluster.client("node0")
    wait_writable(node, key=PREFIX + b"probe")
    # A valid client certificate but no etcd login: the certificate alone grants nothing
    # (its common name is not a user's).
    anonymous = Etcd(etcd_cluster.endpoints, tls=etcd_cluster.tls("node0"))
    # The right user with a wrong password: etcd refuses the login itself.
    wrong_password = Etcd(
        etcd_cluster.endpoints,
        tls=etcd_cluster.tls("node0"),
        login=EtcdLogin("node0", "not-the-password"),
    )
    try:
        assert refused(lambda: anonymous.put(PREFIX + b"leader", b"x")) in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert refused(lambda: anonymous.get(PREFIX + b"probe")) in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        with pytest.raises(EtcdLoginError):
            wrong_password.put(PREFIX + b"leader", b"x")
        assert node.get(PREFIX + b"leader") is None  # nothing was written
    finally:
        anonymous.close()
        wrong_password.close()
        node.close()


def test_c2_a_node_user_reads_and_writes_only_under_the_cluster_prefix(
    etcd_cluster: LocalEtcd,
) -> None:
    node = etcd_cluster.client("node1")
    try:
        wait_writable(node, key=PREFIX + b"probe")
        assert node.get(PREFIX + b"probe") is not None
        assert refused(lambda: node.put(b"/another-cluster/leader", b"x")) == (
            grpc.StatusCode.PERMISSION_DENIED
        )
        assert refused(lambda: node.get(b"/another-cluster/leader")) == (
            grpc.StatusCode.PERMISSION_DENIED
        )
    finally:
        node.close()


def test_c2_a_client_logs_in_again_when_its_token_expires(tmp_path: Path) -> None:
    require_etcd()
    with LocalEtcd(tmp_path / "etcd", prefix=PREFIX, token_ttl=1) as cluster:
        node = cluster.client("node0", deadline=10.0)  # the new login may wait on a busy host
        try:
            wait_writable(node, key=PREFIX + b"probe")
            first = node._token
            time.sleep(3)  # the simple token expires on the members after 1 s unused
            node.put(PREFIX + b"after", b"1")
            assert node._token is not None and node._token != first
        finally:
            node.close()


@pytest.fixture
def follower(tmp_path: Path, etcd: Etcd) -> Iterator[Follower]:
    (publish,) = free_ports(1)
    config = EngineConfig(tmp_path / "node", publish=f"tcp://127.0.0.1:{publish}")
    following = Follower(config, ReplicatedLog(etcd, PREFIX, key=LOG_KEY))
    yield following
    following.close()


def batch(first_seq: int, reference: str) -> bytes:
    """A well-formed journal record: it matches its key, seq and count, as the checks before C2."""
    commands = [
        OpenAccountV1(account=7),
        Deposit(account=7, asset="IRR", amount=10**12, reference=reference),
    ]
    return encode_batch(Batch(first_seq, time.time_ns(), 1, commands, [[], []]))


@pytest.mark.parametrize("mac", ["missing", "another key's", "another batch's"])
def test_c2_forged_log_entry_is_not_applied(
    etcd_cluster: LocalEtcd, follower: Follower, mac: str
) -> None:
    forged_payload = batch(1, "forged")
    forged_mac = {
        "missing": b"",
        "another key's": sign(OTHER_KEY, 1, 1, 2, forged_payload),
        "another batch's": sign(LOG_KEY, 1, 1, 2, batch(1, "genuine")),
    }[mac]
    key = PREFIX + b"log/%020d" % 1
    root = etcd_cluster.client("root")  # whoever can write to etcd, but has not the log key
    try:
        root.put(key, encode(Entry(1, 1, 2, forged_payload, forged_mac)))
        with pytest.raises(ForgedEntryError):
            follower.poll(complete=True)
        assert follower.next_seq == 1  # not applied
        assert list(JournalReader(follower.data.journal).read_all()) == []  # not journaled
        assert follower.state.core.accounts == {}
        # The same batch signed with the cluster's key goes through: only the MAC was wrong.
        genuine = Entry(1, 1, 2, forged_payload, sign(LOG_KEY, 1, 1, 2, forged_payload))
        root.put(key, encode(genuine))
        assert follower.poll(complete=True) == 1
        assert [r.payload for r in JournalReader(follower.data.journal).read_all()] == [
            forged_payload
        ]
    finally:
        root.close()


def test_c2_a_signed_append_verifies_and_a_changed_byte_does_not(etcd: Etcd) -> None:
    log = ReplicatedLog(etcd, PREFIX, key=LOG_KEY)
    leader = LeaderLease(etcd, PREFIX + b"leader", LeaderInfo("a", "tcp://e", "tcp://p"), ttl=1)
    won = leader.campaign()
    assert won is not None
    payload = batch(1, "x")
    log.append(won.epoch, 1, 2, payload)
    (entry,) = log.read(1)
    assert len(entry.mac) == 32  # HMAC-SHA256
    assert entry.mac == sign(LOG_KEY, won.epoch, 1, 2, payload)
    assert entry.mac != sign(LOG_KEY, won.epoch + 1, 1, 2, payload)  # the epoch is covered
    assert entry.mac != sign(LOG_KEY, won.epoch, 1, 1, payload)  # and the count
    leader.resign()


def test_c2_a_forged_leader_key_is_deleted_and_a_node_leads(tmp_path: Path) -> None:
    """A value without the cluster's MAC squats the leader key: the nodes delete it and lead."""
    require_etcd()
    cluster = LocalCluster(tmp_path)
    cluster.root.mkdir(parents=True, exist_ok=True)
    cluster.etcd.start()
    root = cluster.client()
    try:
        wait_writable(root)
        impostor = LeaderInfo("node0", "tcp://192.0.2.1:5555", "tcp://192.0.2.1:5556")
        key = cluster.prefix.encode() + b"leader"
        root.put(key, msgspec.json.encode(impostor), root.grant(60))  # would hold it 60 s
        for node in cluster.nodes:
            cluster.start_node(node)
        leader = cluster.leader(timeout=15)  # only a value signed with the log key counts
        kv = root.get(key)
        assert kv is not None
        info = decode_info(kv.value)
        assert info.authentic(cluster.log_key)
        assert (info.node, info.endpoint) == (leader.name, leader.endpoint)
    finally:
        root.close()
        cluster.stop()
    logs = b"".join((tmp_path / f"{node.name}.log").read_bytes() for node in cluster.nodes)
    assert b"the leader key is not signed by this cluster" in logs


def test_c2_a_forged_entry_stops_a_running_cluster_without_entering_a_journal(
    tmp_path: Path,
) -> None:
    """The leader's next append meets the forged entry and steps down; no node applies it or
    campaigns while it is there; once root deletes it, a node leads and trading goes on."""
    require_etcd()
    cluster = LocalCluster(tmp_path).start()
    root = cluster.client()
    prefix = cluster.prefix.encode()
    try:
        cluster.leader()

        async def submit(deadline: float, *commands: Command) -> None:
            client = EngineClient(
                cluster.endpoints, keys=cluster.keys(), timeout=0.3, deadline=deadline
            )
            try:
                for command in commands:
                    await client.submit(command)
            finally:
                await client.close()

        asyncio.run(submit(60, OpenAccount(owner="owner-1")))
        converge(cluster)
        last = ReplicatedLog(root, prefix, key=cluster.log_key).read(1, limit=100_000)[-1]
        seq = last.first_seq + last.count
        forged = Entry(last.epoch, seq, 2, batch(seq, "forged"))
        root.put(prefix + b"log/%020d" % seq, encode(forged))  # valid record, no MAC
        with pytest.raises(EngineUnavailableError):  # the leader cannot append at seq: it stops
            asyncio.run(
                submit(3, Deposit(account=1, asset="IRR", amount=10**6, reference="during"))
            )
        time.sleep(2)
        assert root.get(prefix + b"leader") is None  # and nobody campaigns
        for node in cluster.nodes:
            assert b"forged" not in journal_bytes(node.data_dir)
            assert b"refused the log entry" in (tmp_path / f"{node.name}.log").read_bytes()
        key = prefix + b"log/%020d" % seq
        root.txn([], [Op.delete_range(key, key + b"\x00")])  # what an operator does, as root
        asyncio.run(submit(60, Deposit(account=1, asset="IRR", amount=10**6, reference="after")))
        converge(cluster)
        journals = [journal_bytes(node.data_dir) for node in cluster.nodes]
        assert all(b"after" in j and b"forged" not in j for j in journals)
    finally:
        root.close()
        cluster.stop()
