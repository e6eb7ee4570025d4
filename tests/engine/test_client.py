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
from exchange.engine.protocol import Reply, reply_encoder, request_decoder


def test_a_request_is_sent_again_until_answered_and_fails_at_the_deadline() -> None:
    (port,) = free_ports(1)

    async def scenario() -> None:
        context = zmq.asyncio.Context()
        router = context.socket(zmq.ROUTER)
        router.bind(f"tcp://127.0.0.1:{port}")
        client = EngineClient(f"tcp://127.0.0.1:{port}", timeout=0.1, deadline=0.6)
        try:

            async def answer_the_third_copy() -> int:
                seen = []
                while True:
                    identity, frame = await router.recv_multipart()
                    request = request_decoder.decode(frame)
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
