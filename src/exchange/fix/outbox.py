"""A turn's outbound FIX messages: stored in one commit, then written, one write per peer.

FIX resends need every message we send to be stored before it is sent. One
commit per message was most of the acceptor's CPU (bench/RESULTS.md,
2026-12-08), so messages are queued here as they are made, for every
session, and written when the event loop has finished its turn: first the
session store commits everything the turn noted (one transaction), then
each peer gets its messages in one write. A crash before the commit loses
messages nobody has seen; a crash after it loses none that a resend cannot
find.

`flush` can also be called at once, where a connection is about to close or
must drain (a long resend): it commits and writes what is queued so far.
"""

import asyncio
from collections.abc import Callable
from typing import Protocol


class Peer(Protocol):
    def deliver(self, data: bytes) -> None:
        """Write these bytes to the peer's socket (the store has committed them)."""


def _next_turn(callback: Callable[[], None]) -> None:
    asyncio.get_running_loop().call_soon(callback)


class Outbox:
    def __init__(
        self,
        commit: Callable[[], None],
        *,
        schedule: Callable[[Callable[[], None]], None] = _next_turn,
    ) -> None:
        self._commit = commit
        self._schedule = schedule
        self._waiting: dict[Peer, list[bytes]] = {}
        self._scheduled = False
        self.flushes = 0
        """Flushes that wrote something, since start."""

    def put(self, peer: Peer, raw: bytes) -> None:
        """Queue a message for `peer`, written by the flush at the end of this turn."""
        queued = self._waiting.get(peer)
        if queued is not None:
            queued.append(raw)
            return
        self._waiting[peer] = [raw]
        if not self._scheduled:
            self._scheduled = True
            self._schedule(self._end_of_turn)

    def _end_of_turn(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Commit what the store has noted, then write each peer's queued messages."""
        self._commit()
        if not self._waiting:
            return
        waiting, self._waiting = self._waiting, {}
        self.flushes += 1
        for peer, queued in waiting.items():
            peer.deliver(queued[0] if len(queued) == 1 else b"".join(queued))
