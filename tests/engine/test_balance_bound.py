"""M6: balances are bounded in the core, and a poisoned command cannot kill the engine.

Before the bound, 20 deposits of 10^18 took one account past 2^64: the reply
could not be encoded, the engine died, the gateway resent the command to the
standby, and it died the same way.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from exchange.core import (
    Deposit,
    NewOrder,
    OpenAccount,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
    state_hash,
)
from exchange.core.events import BalanceChanged, CommandRejected
from exchange.core.machine import MAX_AMOUNT, MAX_BALANCE
from exchange.engine import rebuild
from exchange.engine.client import EngineClient
from exchange.engine.journaled import JournaledCore
from tests.engine.test_server import EngineProcess
from tests.engine.test_standby import StandbyProcess

ACCOUNT = 1
"""The first account a new engine opens."""


def test_m6_twenty_deposits_of_10e18_keep_the_engine_and_the_standby_alive(
    tmp_path: Path,
) -> None:
    primary = EngineProcess(tmp_path / "data")
    primary.start()
    standby = StandbyProcess(primary)

    async def scenario() -> tuple[list[object], int]:
        client = EngineClient(primary.endpoint, keys=primary.keys(), timeout=0.3, deadline=20)
        try:
            # the primary is up and holds the role
            assert await client.open_account("m6") == ACCOUNT
            standby.start()
            await asyncio.sleep(1.0)  # the standby has rebuilt and follows
            answers = []
            for i in range(20):
                reply = await client.submit(
                    Deposit(account=ACCOUNT, asset="IRR", amount=MAX_AMOUNT, reference=f"m6-{i}")
                )
                answers.append(reply.events[0])
            assert primary.proc is not None and primary.proc.poll() is None
            state = await client.account(ACCOUNT)
            assert state is not None and state.cash == 4 * MAX_AMOUNT
            primary.kill(signal.SIGKILL)
            # The standby takes over (it replayed the same commands and survived them).
            after = await client.submit(
                Deposit(account=ACCOUNT, asset="IRR", amount=1, reference="m6-after")
            )
            assert type(after.events[0]) is BalanceChanged
            return answers, after.events[0].total
        finally:
            await client.close()

    try:
        answers, total = asyncio.run(scenario())
        assert standby.proc is not None and standby.proc.poll() is None
    finally:
        for proc in (standby.proc, primary.proc):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    assert [type(e) for e in answers[:4]] == [BalanceChanged] * 4
    refused = answers[4:]
    assert all(type(e) is CommandRejected for e in refused), refused
    assert {e.reason for e in refused} == {RejectReason.BALANCE_LIMIT}  # type: ignore[attr-defined]
    assert total == 4 * MAX_AMOUNT + 1 <= MAX_BALANCE
    replay = rebuild(tmp_path / "data", verify=True, use_snapshot=False)
    assert replay.mismatched_batches == []
    assert replay.core.accounts[ACCOUNT].cash == total


def test_m6_a_command_whose_events_cannot_be_encoded_is_refused_not_fatal(
    tmp_path: Path,
) -> None:
    """The defensive guard. Over the wire no integer passes 2^64, but a command built in
    process can carry one, and a rejection echoes it: that event cannot be encoded. The
    command alone is refused, nothing of it is applied or journaled, the engine goes on."""
    poison = NewOrder(
        account=2,
        client_order_id="poison",
        symbol="NOPE",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=2**64,
        quantity=1,
    )
    with JournaledCore(tmp_path / "data") as engine:
        engine.process([OpenAccount(owner="owner-1"), OpenAccount(owner="owner-2")])
        next_order_id = engine.core.next_order_id
        batch = engine.process(
            [
                Deposit(account=1, asset="IRR", amount=5, reference="a"),
                poison,
                Deposit(account=1, asset="IRR", amount=7, reference="b"),
            ]
        )
        assert list(engine.refused) == [1]
        assert batch.commands == [
            Deposit(account=1, asset="IRR", amount=5, reference="a"),
            Deposit(account=1, asset="IRR", amount=7, reference="b"),
        ]
        assert batch.first_seq == 3 and batch.last_seq == 4
        assert [e[0].total for e in batch.events] == [5, 12]  # type: ignore[union-attr]
        assert engine.core.next_order_id == next_order_id  # the poison allocated nothing
        assert "poison" not in engine.core.accounts[2].orders_by_client_id
        only_poison = engine.process([poison])
        assert list(engine.refused) == [0] and only_poison.commands == []
        after = engine.process([Deposit(account=2, asset="IRR", amount=1, reference="c")])
        assert engine.refused == {} and after.first_seq == 5
        live = state_hash(engine.core)
    replay = rebuild(tmp_path / "data", verify=True, use_snapshot=False)
    assert replay.mismatched_batches == [] and replay.last_seq == 5
    assert state_hash(replay.core) == live
