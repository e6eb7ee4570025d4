"""Real etcd members for the cluster's tests (Debian's etcd-server).

Under CI=true a missing etcd fails the tests; elsewhere they are skipped.
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


def wait_writable(etcd: Etcd, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            etcd.put(b"/probe", b"1")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def etcd_cluster(tmp_path: Path) -> Iterator[LocalEtcd]:
    require_etcd()
    with LocalEtcd(tmp_path / "etcd") as cluster:
        yield cluster


@pytest.fixture
def etcd(etcd_cluster: LocalEtcd) -> Iterator[Etcd]:
    client = Etcd(etcd_cluster.endpoints)
    wait_writable(client)
    yield client
    client.close()
