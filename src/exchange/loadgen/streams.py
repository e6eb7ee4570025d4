"""One WebSocket per user on /v1/stream, counting the execution reports each receives.

The seed's bar is 10,000 users connected at once, each receiving its fills:
every user opens its own stream with its own token before the load starts,
and counts the `fill` reports that arrive on it. The counts say whether
every user got its fills; the connection failures and drops say whether the
gateway held every stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import msgspec

from exchange.loadgen.users import User


@dataclass
class StreamStats:
    fills: list[int]
    reports: list[int]
    connected: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    """Streams the server closed while the run went on."""
    last_message_at: float = 0.0


class Streams:
    """Every user's stream, in one aiohttp session with no connection limit."""

    def __init__(self, ws_base: str, users: list[User]) -> None:
        self.ws_base = ws_base
        self.users = users
        self.stats = StreamStats([0] * len(users), [0] * len(users))
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=False),
            timeout=aiohttp.ClientTimeout(total=None, connect=60),
        )
        self.tasks: list[asyncio.Task[None]] = []
        self.closing = False

    async def connect(self, concurrency: int = 200) -> None:
        """Open every stream (at most `concurrency` handshakes at once); returns when all tried."""
        gate = asyncio.Semaphore(concurrency)
        ready = [asyncio.Event() for _ in self.users]
        for index in range(len(self.users)):
            self.tasks.append(asyncio.ensure_future(self._hold(index, gate, ready[index])))
        await asyncio.gather(*(event.wait() for event in ready))

    async def _hold(self, index: int, gate: asyncio.Semaphore, ready: asyncio.Event) -> None:
        user = self.users[index]
        stats = self.stats
        loop = asyncio.get_running_loop()
        try:
            async with gate:
                ws = await self.session.ws_connect(
                    f"{self.ws_base}/v1/stream", headers=user.headers, heartbeat=None
                )
                first = await ws.receive(timeout=30)
                if first.type is not aiohttp.WSMsgType.BINARY and (
                    first.type is not aiohttp.WSMsgType.TEXT
                ):
                    stats.failures[f"closed_{ws.close_code}"] += 1
                    ready.set()
                    return
            stats.connected += 1
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            stats.failures[type(error).__name__] += 1
            ready.set()
            return
        ready.set()
        try:
            async for message in ws:
                if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                    break
                report = msgspec.json.decode(message.data)
                stats.reports[index] += 1
                if report.get("type") == "fill":
                    stats.fills[index] += 1
                stats.last_message_at = loop.time()
        except (aiohttp.ClientError, OSError):
            pass
        finally:
            if not self.closing:
                stats.dropped += 1
            with contextlib.suppress(Exception):
                await ws.close()

    async def settle(self, quiet: float = 1.0, limit: float = 15.0) -> None:
        """Wait until no report arrived for `quiet` seconds (at most `limit`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            if loop.time() - max(self.stats.last_message_at, 0.0) >= quiet:
                return
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        self.closing = True
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.session.close()


def stream_counts(stats: StreamStats) -> dict[str, int]:
    """The streams' figures in the summary (added up over generator processes)."""
    return {
        "streams_connected": stats.connected,
        "streams_dropped": stats.dropped,
        "fills_received_on_streams": sum(stats.fills),
        "users_with_fills": sum(1 for f in stats.fills if f),
        "reports_received_on_streams": sum(stats.reports),
    }
