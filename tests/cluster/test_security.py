"""Review C2: etcd replication with TLS, RBAC and signed log entries, against real etcd members.

The members run with client and peer TLS and client certificates required
(`LocalEtcd`), RBAC on (root, and node users that may read and write under
the test prefix only).
"""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from exchange.cluster.etcd import Etcd, EtcdError, EtcdLogin, EtcdLoginError, EtcdTls
from exchange.cluster.local_etcd import LocalEtcd
from tests.cluster.conftest import PREFIX, wait_writable

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
    with LocalEtcd(tmp_path / "etcd", prefix=PREFIX, token_ttl=1) as cluster:
        node = cluster.client("node0")
        try:
            wait_writable(node, key=PREFIX + b"probe")
            first = node._token
            time.sleep(3)  # the simple token expires on the members after 1 s unused
            node.put(PREFIX + b"after", b"1")
            assert node._token is not None and node._token != first
        finally:
            node.close()
