"""The engine process over ZeroMQ: replies after durability, restart, SIGKILL and retry."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path

from exchange.calendar import TradingCalendar
from exchange.core import (
    CloseSession,
    Deposit,
    ExchangeCore,
    NewOrder,
    OpenAccount,
    OpenSession,
    OrderType,
    Side,
    TimeInForce,
    state_hash,
)
from exchange.core.events import DuplicateOrder, Fill, OrderAccepted
from exchange.engine import rebuild
from exchange.engine.client import EngineClient
from exchange.engine.scheduler import session_commands
from exchange.refdata import load_instruments
from tests.launched import EngineProcess

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["EngineProcess", "setup_accounts"]


def order(account: int, coid: str, side: Side, price: int, qty: int = 100) -> NewOrder:
    return NewOrder(
        account=account,
        client_order_id=coid,
        symbol="FOOLAD",
        side=side,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=price,
        quantity=qty,
    )


async def setup_accounts(client: EngineClient) -> None:
    for account in (1, 2):
        opened = await client.open_account(f"owner-{account}")
        assert opened == account, "a new engine gives account ids 1, 2, ... in order"
        await client.submit(
            Deposit(account=account, asset="IRR", amount=10**12, reference=f"cash-{account}")
        )
        await client.submit(
            Deposit(account=account, asset="FOOLAD", amount=10**6, reference=f"sh-{account}")
        )


def test_session_commands_follow_the_calendar() -> None:
    core = ExchangeCore()
    cal = TradingCalendar.default()
    open_time = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # Thursday 09:30 Tehran
    assert session_commands(cal, open_time, core) == [OpenSession(trading_day=20261126)]
    core.apply(OpenSession(trading_day=20261126), 1)
    assert session_commands(cal, open_time, core) == []
    closed = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 13:30 Tehran
    assert session_commands(cal, closed, core) == [CloseSession()]
    core.apply(CloseSession(), 2)
    assert session_commands(cal, closed, core) == []
    always = TradingCalendar.always()
    core.apply(OpenSession(trading_day=20261126), 3)
    next_day = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert session_commands(always, next_day, core) == [
        CloseSession(),
        OpenSession(trading_day=20261127),
    ]


def test_orders_over_zeromq_survive_sigkill_and_retries_are_not_duplicated(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "data")
    engine.start()

    async def scenario() -> None:
        client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.3, deadline=30)
        try:
            await run(client)
        finally:
            await client.close()

    async def run(client: EngineClient) -> None:
        await setup_accounts(client)
        accepted: dict[str, int] = {}
        reference = next(i for i in load_instruments() if i.symbol == "FOOLAD").reference_price
        reply = await client.submit(order(1, "sell-1", Side.SELL, reference))
        assert reply.seq > 0
        # Where the command spent its time in the engine: queue, match, replicate (none), journal.
        assert reply.stages is not None and len(reply.stages) == 4
        queue, match, replicate, journal = reply.stages
        assert queue >= 0 and match > 0 and replicate >= 0 and journal > 0
        price = 0
        for event in reply.events:
            if type(event) is OrderAccepted:
                accepted[event.client_order_id] = event.order_id
                price = event.price
        assert price
        # A stream of traffic from 20 concurrent senders, and a SIGKILL in the middle of it.
        answered = 0
        in_flight = 0
        total = 2_000
        queue = iter(range(total))

        async def sender() -> None:
            nonlocal answered, in_flight
            for i in queue:
                in_flight += 1
                reply = await client.submit(order(2, f"b{i}", Side.BUY, price - (i % 5) - 1))
                in_flight -= 1
                answered += 1
                for event in reply.events:
                    if type(event) in (OrderAccepted, DuplicateOrder):
                        accepted[event.client_order_id] = event.order_id

        senders = [asyncio.create_task(sender()) for _ in range(20)]
        while answered < 200:
            await asyncio.sleep(0.001)
        engine.kill()
        assert answered < total and in_flight > 0  # killed mid-stream, requests unanswered
        engine.start()
        # Each unanswered request is answered after the restart: delivered late from the
        # client's queue, or resent after its timeout (client.resends); both are safe.
        await asyncio.gather(*senders)
        assert len([c for c in accepted if c.startswith("b")]) == total
        # A retry with the same client order id returns the original order.
        again = await client.submit(order(2, "b7", Side.BUY, price))
        (dup,) = again.events
        assert type(dup) is DuplicateOrder and dup.order_id == accepted["b7"]
        # A crossing order trades against resting ones after the restart.
        crossed = await client.submit(order(1, "cross", Side.SELL, price - 5, 200))
        assert any(type(e) is Fill for e in crossed.events)

    try:
        asyncio.run(scenario())
    finally:
        engine.kill(signal.SIGTERM)
    state = rebuild(tmp_path / "data", verify=True)
    assert state.mismatched_batches == []
    buys = [o for o in state.core.orders.values() if o.client_order_id.startswith("b")]
    assert len(buys) == 2_000  # every acknowledged order exactly once
    assert len({o.client_order_id for o in buys}) == 2_000
    assert state_hash(state.core) == state_hash(rebuild(tmp_path / "data", use_snapshot=False).core)


def test_sigterm_stops_cleanly_and_the_state_is_kept(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "data")
    engine.start()

    async def place() -> None:
        client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.3)
        try:
            await setup_accounts(client)
        finally:
            await client.close()

    asyncio.run(place())
    engine.kill(signal.SIGTERM)
    assert engine.proc is not None and engine.proc.returncode == 0
    state = rebuild(tmp_path / "data")
    assert set(state.core.accounts) == {1, 2}
    assert len(state.core.instruments) == 100


def test_malformed_requests_get_an_error_and_do_not_stop_the_engine(tmp_path: Path) -> None:
    import zmq

    engine = EngineProcess(tmp_path / "data")
    engine.start()
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    engine.keys("trading").apply(dealer)
    dealer.connect(engine.endpoint)
    try:
        dealer.send(b"\x93\x01\x02garbage")
        assert dealer.poll(10_000)
        from exchange.engine.protocol import reply_decoder

        reply = reply_decoder.decode(dealer.recv())
        assert reply.seq == 0 and "malformed" in reply.error

        async def still_alive() -> None:
            client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.3)
            try:
                reply = await client.submit(OpenAccount(owner="owner-5"))
                assert reply.seq > 0
            finally:
                await client.close()

        asyncio.run(still_alive())
    finally:
        dealer.close()
        context.term()
        engine.kill(signal.SIGTERM)
