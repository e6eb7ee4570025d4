"""Real etcd members for the cluster's tests (Debian's etcd-server).

Under CI=true a missing etcd fails the tests; elsewhere they are skipped.
The members run as a deployment should (review C2): client and peer TLS,
RBAC on, and the `etcd` fixture's client is a node's user, which may read
and write under the test prefix only.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.cluster.etcd import Etcd
from exchange.cluster.local_etcd import LocalEtcd


def require_etcd() -> None:
    if shutil.which("etcd") is None and not Path("/usr/bin/etcd").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("etcd is required under CI=true (apt-get install etcd-server)")
        pytest.skip("etcd is not installed")


PREFIX = b"/t/"
LOG_KEY = bytes(range(32))


def wait_writable(etcd: Etcd, timeout: float = 30.0, key: bytes = b"/probe") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            etcd.put(key, b"1")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def etcd_cluster(tmp_path: Path) -> Iterator[LocalEtcd]:
    require_etcd()
    with LocalEtcd(tmp_path / "etcd", prefix=PREFIX) as cluster:
        yield cluster


@pytest.fixture
def etcd(etcd_cluster: LocalEtcd) -> Iterator[Etcd]:
    """A node's client: TLS with its certificate, logged in as `node0`."""
    client = etcd_cluster.client("node0")
    wait_writable(client, key=PREFIX + b"probe")
    yield client
    client.close()
