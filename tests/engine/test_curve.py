"""Review C1: nobody but the exchange's own processes can talk to the engine, each in its role.

On 56b90ba any local process could connect to the engine's ports and send any command
(a deposit of 10**18, an order for another account, a session close) or read the whole
order flow; and whoever bound a free engine port during a takeover got the gateways'
orders. Each test here fails there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from exchange.core import CloseSession, Deposit, NewOrder, OrderType, Side, TimeInForce
from exchange.engine.client import EngineClient, EngineUnavailableError
from exchange.engine.curve import ClientKeys, KeyPair
from exchange.engine.ports import free_ports
from exchange.engine.protocol import (
    TOPIC_BATCH,
    Reply,
    Request,
    reply_decoder,
    request_encoder,
)
from exchange.engine.queries import AccountQuery
from tests.curve import key_directory, serve_as_engine
from tests.engine.test_server import EngineProcess, setup_accounts

ACCOUNT = 1


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    process = EngineProcess(tmp_path_factory.mktemp("curve") / "data")
    process.start(ready=True)

    async def accounts() -> None:
        client = EngineClient(process.endpoint, keys=process.keys("admin"), deadline=30)
        try:
            await setup_accounts(client)
        finally:
            await client.close()

    asyncio.run(accounts())
    try:
        yield process
    finally:
        process.stop()


def _cash(engine: EngineProcess) -> int:
    async def ask() -> int:
        client = EngineClient(engine.endpoint, keys=engine.keys("trading"), deadline=10)
        try:
            state = await client.account(ACCOUNT)
            assert state is not None
            return state.cash
        finally:
            await client.close()

    return asyncio.run(ask())


def _send(engine: EngineProcess, keys: ClientKeys | None, command: object) -> Reply | None:
    """One request on a raw DEALER (with `keys`, or none at all); its reply or None in 2 s."""
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        keys.apply(dealer)
    dealer.connect(engine.endpoint)
    try:
        dealer.send(request_encoder.encode(Request(7, command)))  # type: ignore[arg-type]
        if not dealer.poll(2_000):
            return None
        return reply_decoder.decode(dealer.recv())
    finally:
        dealer.close()
        context.term()


def _deposit(reference: str) -> Deposit:
    return Deposit(account=ACCOUNT, asset="IRR", amount=10**15, reference=reference)


def test_c1_unauthenticated_peer_cannot_deposit(engine: EngineProcess) -> None:
    before = _cash(engine)
    assert _send(engine, None, _deposit("no-curve")) is None  # no handshake, no reply
    assert _cash(engine) == before


def test_c1_unknown_key_cannot_deposit(engine: EngineProcess) -> None:
    """A CURVE client that knows the engine's public key but has no key of ours."""
    public, secret = zmq.curve_keypair()
    stranger = ClientKeys(KeyPair(public, secret), engine.keys("admin").server)
    before = _cash(engine)
    assert _send(engine, stranger, _deposit("stranger")) is None
    assert _cash(engine) == before


def test_c1_trading_key_cannot_deposit(engine: EngineProcess) -> None:
    before = _cash(engine)
    reply = _send(engine, engine.keys("trading"), _deposit("trading"))
    assert reply is not None and reply.seq == 0 and "not allowed" in reply.error
    assert _cash(engine) == before
    order = NewOrder(account=ACCOUNT, client_order_id="curve-ok", symbol="FOOLAD", side=Side.BUY,
                     order_type=OrderType.LIMIT, time_in_force=TimeInForce.GTC, price=5_000,
                     quantity=100)  # fmt: skip
    placed = _send(engine, engine.keys("trading"), order)
    assert placed is not None and placed.seq > 0 and not placed.error  # its own job it may do
    admin = _send(engine, engine.keys("admin"), _deposit("admin"))
    assert admin is not None and admin.seq > 0 and _cash(engine) == before + 10**15


def test_c1_feed_key_cannot_send(engine: EngineProcess) -> None:
    order = NewOrder(account=ACCOUNT, client_order_id="feed", symbol="FOOLAD", side=Side.BUY,
                     order_type=OrderType.LIMIT, time_in_force=TimeInForce.GTC, price=5_000,
                     quantity=100)  # fmt: skip
    for command in (order, AccountQuery(ACCOUNT)):
        reply = _send(engine, engine.keys("feed"), command)
        assert reply is not None and reply.seq == 0 and "not allowed" in reply.error
        assert reply.state is None


def test_c1_session_commands_never_come_from_the_wire(engine: EngineProcess) -> None:
    reply = _send(engine, engine.keys("admin"), CloseSession())
    assert reply is not None and reply.seq == 0 and "not allowed" in reply.error


def test_c1_unauthenticated_subscriber_gets_no_batches(engine: EngineProcess) -> None:
    context = zmq.Context()
    plain, keyed = context.socket(zmq.SUB), context.socket(zmq.SUB)
    try:
        for socket, keys in ((plain, None), (keyed, engine.keys("feed"))):
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.SUBSCRIBE, TOPIC_BATCH)
            if keys is not None:
                keys.apply(socket)
            socket.connect(engine.publish)
        time.sleep(0.5)  # both connected (or refused) before the batches below
        for n in range(5):
            reply = _send(engine, engine.keys("admin"), _deposit(f"feed-{n}"))
            assert reply is not None and reply.seq > 0
        assert keyed.poll(5_000), "the feed key receives the batches"
        assert not plain.poll(500), "a subscriber without a key receives nothing"
    finally:
        plain.close()
        keyed.close()
        context.term()


def test_c1_impostor_engine_gets_nothing(tmp_path: Path, engine: EngineProcess) -> None:
    """A process bound on a free engine port (as during a takeover), without the engine's
    secret key: with its own CURVE key, or with none, it never receives a request."""
    for own_key in (True, False):
        (port,) = free_ports(1)
        context = zmq.Context()
        impostor = context.socket(zmq.ROUTER)
        impostor.setsockopt(zmq.LINGER, 0)
        if own_key:
            serve_as_engine(impostor, key_directory(tmp_path / f"impostor-{own_key}"))
        impostor.bind(f"tcp://127.0.0.1:{port}")

        async def submit(port: int) -> None:
            client = EngineClient(f"tcp://127.0.0.1:{port}", keys=engine.keys("trading"),
                                  timeout=0.2, deadline=1.5)  # fmt: skip
            try:
                with pytest.raises(EngineUnavailableError):
                    await client.submit(_deposit("impostor"))
            finally:
                await client.close()

        try:
            asyncio.run(submit(port))
            assert not impostor.poll(200), "the impostor received a request"
        finally:
            impostor.close()
            context.term()


def test_a_list_of_requests_is_answered_in_lists_each_checked_for_its_role(
    engine: EngineProcess,
) -> None:
    """The batched wire: one message of mixed requests from a trading key; the order runs,
    the deposit is refused alone, the query is answered; every answer comes in a list."""
    from exchange.engine.protocol import is_list, replies_decoder, requests_encoder

    order = NewOrder(account=ACCOUNT, client_order_id="list-1", symbol="FOOLAD", side=Side.BUY,
                     order_type=OrderType.LIMIT, time_in_force=TimeInForce.GTC, price=5_000,
                     quantity=100)  # fmt: skip
    requests = [Request(1, order), Request(2, _deposit("list")), Request(3, AccountQuery(ACCOUNT))]
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    engine.keys("trading").apply(dealer)
    dealer.connect(engine.endpoint)
    replies: dict[int, Reply] = {}
    try:
        dealer.send(requests_encoder.encode(requests))
        while len(replies) < 3 and dealer.poll(5_000):
            frame = dealer.recv()
            assert is_list(frame)
            replies.update((r.request_id, r) for r in replies_decoder.decode(frame))
    finally:
        dealer.close()
        context.term()
    assert replies[1].seq > 0 and not replies[1].error
    assert replies[2].seq == 0 and "not allowed" in replies[2].error
    assert replies[3].state is not None and replies[3].state.account == ACCOUNT
