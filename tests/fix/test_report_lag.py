"""A FIX session gets its reports through the shared fan-out: cut off when behind, then resumed.

The acceptor runs in this process (in a thread with its own event loop) so
its fan-out queue can be made one report deep; the engine, the journal,
the account and session stores and the TCP client are the real ones.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.accounts.store import AccountStore
from exchange.core import Deposit, NewOrder, OpenAccount, OrderType, Side, TimeInForce
from exchange.engine.client import EngineClient
from exchange.engine.ports import free_ports
from exchange.fix.server import FeedStoppedError, FixConfig, FixGateway
from tests import migrated
from tests.engine.test_server import EngineProcess
from tests.fix.client import FixClient
from tests.fix.test_gateway import REF, order, report


@pytest.fixture
def acceptor(tmp_path: Path, engine: EngineProcess) -> Iterator[tuple[int, str, str]]:
    """A FIX acceptor whose sessions may have one report pending; account 2 rests a sell."""
    migrated.data_dir(tmp_path)
    store = AccountStore(f"sqlite:///{tmp_path / 'accounts.db'}")
    comp_id, secret = store.create_credential(frozenset({"trade", "read"}), (1,))
    store.engine.dispose()

    async def setup() -> None:
        client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.5, deadline=30)
        try:
            for account in (1, 2):
                opened = await client.open_account(f"owner-{account}")
                assert opened == account, "a new engine gives account ids 1, 2, ... in order"
                await client.submit(
                    Deposit(account=account, asset="IRR", amount=10**12, reference=f"c{account}")
                )
                await client.submit(
                    Deposit(account=account, asset="FOOLAD", amount=10**6, reference=f"s{account}")
                )
            await client.submit(
                NewOrder(
                    account=2,
                    client_order_id="rest",
                    symbol="FOOLAD",
                    side=Side.SELL,
                    order_type=OrderType.LIMIT,
                    time_in_force=TimeInForce.DAY,
                    price=REF,
                    quantity=500,
                )
            )
        finally:
            await client.close()

    asyncio.run(setup())
    (port,) = free_ports(1)
    config = FixConfig(
        engine_endpoint=engine.endpoint,
        engine_publish=engine.publish,
        journal=engine.data_dir / "journal",
        accounts_url=f"sqlite:///{tmp_path / 'accounts.db'}",
        store_url=f"sqlite:///{tmp_path / 'fix-sessions.db'}",
        port=port,
        report_queue=1,
    )
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    gateway = FixGateway(config)
    thread = threading.Thread(target=loop.run_until_complete, args=(gateway.serve(stop),))
    thread.start()
    try:
        for _ in range(200):
            try:
                FixClient(port, comp_id, secret).close()
                break
            except OSError:
                threading.Event().wait(0.05)
        yield port, comp_id, secret
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def test_a_session_behind_by_more_than_its_queue_is_closed_and_resumed_at_logon(
    acceptor: tuple[int, str, str],
) -> None:
    port, comp_id, secret = acceptor
    buyer = FixClient(port, comp_id, secret)
    assert buyer.logon().msg_type == "A"
    buyer.send("D", order("take", "1", 200, tif="3"))  # one batch: accepted and filled
    accepted = report(buyer, t150="0")
    assert accepted.get(11) == "take"
    assert buyer.closed()  # the fill did not fit in the queue: cut off, not buffered
    back = FixClient(port, comp_id, secret, seq=buyer.seq)
    assert back.logon().msg_type == "A"
    filled = report(back, t150="F")
    assert (filled.get(11), filled.get(32), filled.get(151)) == ("take", "200", "0")
    with pytest.raises(AssertionError):
        report(back, 1.0, t150="0")  # the acceptance it already had is not sent again
    back.close()


def test_l2_fix_acceptor_stops_when_it_can_no_longer_follow_the_engine(
    tmp_path: Path, engine: EngineProcess
) -> None:
    """On 56b90ba the feed task died alone and every session silently lost its reports."""
    migrated.data_dir(tmp_path)
    (port,) = free_ports(1)
    config = FixConfig(
        engine_endpoint=engine.endpoint,
        engine_publish=engine.publish,
        journal=engine.data_dir / "journal",
        accounts_url=f"sqlite:///{tmp_path / 'accounts.db'}",
        store_url=f"sqlite:///{tmp_path / 'fix-sessions.db'}",
        port=port,
    )

    async def run() -> None:
        gateway = FixGateway(config)
        stop = asyncio.Event()
        serving = asyncio.ensure_future(gateway.serve(stop))
        while gateway.server is None:
            await asyncio.sleep(0.05)

        def broken(batch: object) -> list[object]:
            raise OSError("disk full")  # what a store write in the feed's path may raise

        gateway.view.apply = broken  # type: ignore[method-assign]
        client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.5, deadline=30)
        try:
            await client.submit(OpenAccount(owner="owner-7"))  # a batch the acceptor fails to apply
        finally:
            await client.close()
        with pytest.raises(FeedStoppedError):
            await asyncio.wait_for(serving, 30)
        assert not stop.is_set()

    asyncio.run(run())
