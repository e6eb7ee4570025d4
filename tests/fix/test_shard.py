"""A FIX acceptor of one account shard: its accounts trade, the others are sent elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.launch import service
from tests.engine.test_server import EngineProcess
from tests.fix.test_gateway import REF, ROOT, Fix, fix, order, report
from tests.launched import beside

__all__ = ["fix"]  # the fixture, used below through `sharded`
SHARDS = 2


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineProcess]:
    engine = EngineProcess(tmp_path / "engine", engine__account_shards=SHARDS)
    engine.start()
    try:
        yield engine
    finally:
        engine.kill()


@pytest.fixture
def sharded(fix: Fix) -> Fix:
    """The fixture's acceptor restarted as the acceptor of shard 1 (accounts 1 and 3)."""
    fix.stop()
    config = beside(
        fix.engine, fix.data, fix__port=fix.port, fix__logon_timeout=2.0,
        engine__account_shards=SHARDS, fix__account_shard=1,
    )  # fmt: skip
    fix.proc = service("fix", config, quiet=True, cwd=ROOT).start().wait_ready().process
    return fix


def test_a_shard_acceptor_trades_its_accounts_and_refuses_the_others(sharded: Fix) -> None:
    seller, buyer, elsewhere = sharded.client(1), sharded.client(3), sharded.client(2)
    try:
        for client in (seller, buyer, elsewhere):
            assert client.logon().msg_type == "A"
        seller.send("D", order("ask-1", "2", 100, REF))
        assert report(seller, t150="0").get(11) == "ask-1"
        buyer.send("D", order("bid-1", "1", 100, REF))
        fill = report(buyer, t150="F")
        assert (fill.get(11), fill.get(32), fill.get(31)) == ("bid-1", "100", str(REF))
        assert report(seller, t150="F").get(11) == "ask-1"  # its resting order's fill
        elsewhere.send("D", order("bid-2", "1", 100, REF))
        refused = elsewhere.expect(lambda m: m.msg_type == "3")
        assert "another acceptor" in (refused.get(58) or "")
    finally:
        for client in (seller, buyer, elsewhere):
            client.close()
