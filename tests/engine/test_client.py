"""EngineClient: unanswered after `timeout`, a request is sent again; at `deadline` it fails."""

from __future__ import annotations

import asyncio
import time

import pytest
import zmq
import zmq.asyncio

from exchange.core import OpenAccount
from exchange.engine.client import EngineClient, EngineUnavailableError
from exchange.engine.ports import free_ports
from exchange.engine.protocol import (
    MAX_REQUESTS_PER_MESSAGE,
    Reply,
    pack_list,
    reply_encoder,
    requests_decoder,
)
from tests.curve import key_directory, serve_as_engine


def test_a_request_is_sent_again_until_answered_and_fails_at_the_deadline() -> None:
    (port,) = free_ports(1)

    async def scenario() -> None:
        context = zmq.asyncio.Context()
        router = context.socket(zmq.ROUTER)
        directory = key_directory()
        serve_as_engine(router, directory)
        router.bind(f"tcp://127.0.0.1:{port}")
        client = EngineClient(f"tcp://127.0.0.1:{port}", keys=directory.client("admin"),
                              timeout=0.1, deadline=0.6)  # fmt: skip
        try:

            async def answer_the_third_copy() -> int:
                seen = []
                while True:
                    identity, frame = await router.recv_multipart()
                    (request,) = requests_decoder.decode(frame)
                    seen.append(request.request_id)
                    if len(seen) == 3:
                        reply = Reply(request.request_id, 7, 1, [])
                        await router.send_multipart([identity, reply_encoder.encode(reply)])
                        assert len(set(seen)) == 1  # the same request id every time
                        return len(seen)

            server = asyncio.create_task(answer_the_third_copy())
            reply = await client.submit(OpenAccount(owner="owner-1"))
            assert reply.seq == 7 and await server == 3
            assert client.resends == 2
            # Nobody answers now: the call fails at its deadline, not before, and not forever.
            started = time.monotonic()
            with pytest.raises(EngineUnavailableError):
                await client.submit(OpenAccount(owner="owner-2"))
            assert 0.6 <= time.monotonic() - started < 5
            assert not client._pending  # nothing left behind
        finally:
            await client.close()
            router.close(linger=0)
            context.term()

    asyncio.run(scenario())


def test_the_requests_of_one_turn_go_in_one_message_and_come_back_in_one() -> None:
    """The batched wire (issue 15): 600 submits made in one turn of the event loop reach the
    engine as 3 messages (256 at most each), in order, and one message answers many."""
    (port,) = free_ports(1)

    async def scenario() -> None:
        context = zmq.asyncio.Context()
        router = context.socket(zmq.ROUTER)
        directory = key_directory()
        serve_as_engine(router, directory)
        router.bind(f"tcp://127.0.0.1:{port}")
        client = EngineClient(f"tcp://127.0.0.1:{port}", keys=directory.client("admin"),
                              timeout=5, deadline=10)  # fmt: skip
        try:
            calls = [
                asyncio.ensure_future(client.submit(OpenAccount(owner=f"o{n}"))) for n in range(600)
            ]
            messages = []
            while sum(len(m) for m in messages) < 600:
                identity, frame = await router.recv_multipart()
                messages.append(requests_decoder.decode(frame))
            assert [len(m) for m in messages] == [MAX_REQUESTS_PER_MESSAGE] * 2 + [88]
            requests = [r for m in messages for r in m]
            assert [r.command.owner for r in requests] == [f"o{n}" for n in range(600)]  # type: ignore[union-attr]
            answers = [reply_encoder.encode(Reply(r.request_id, 100 + i, 1, []))
                       for i, r in enumerate(requests)]  # fmt: skip
            await router.send_multipart([identity, pack_list(answers)])  # all in one message
            replies = await asyncio.gather(*calls)
            assert [reply.seq for reply in replies] == [100 + n for n in range(600)]
            assert client.messages_sent == 3
        finally:
            await client.close()
            router.close(linger=0)
            context.term()

    asyncio.run(scenario())
