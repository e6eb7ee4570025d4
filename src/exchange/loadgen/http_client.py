"""HTTP/1.1 keep-alive connections for the generator's hot path, parsed by httptools.

aiohttp cost the generator 120-400 µs of CPU per request (bench/RESULTS.md,
2026-12-08), as much as the gateway spent answering it: a generator that
costs what the server costs cannot tell which of them is the limit. Here a
request is bytes prepared before the run, written on a free connection of
a bounded pool; the response is parsed by httptools (uvicorn's C parser)
into a status and a body. One request at a time per connection (no
pipelining), so a response always belongs to the request its connection
sent; a connection whose request was abandoned (a timeout) is closed, not
reused.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

import httptools


class Connection(asyncio.Protocol):
    """One keep-alive connection: write a request, the next response completes `waiter`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.open = True

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ConnectionError(f"malformed response: {error}"))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        body, self.body = bytes(self.body), bytearray()
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), body))
        if not self.parser.should_keep_alive():
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._fail(ConnectionError(f"connection closed: {exc}" if exc else "connection closed"))

    def _fail(self, error: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.close()

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


class Pool:
    """At most `size` connections to one server; a request waits for a free one."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.free: list[Connection] = []
        self.waiting: deque[asyncio.Future[Connection | None]] = deque()
        self.opened = 0
        self.all: list[Connection] = []

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send `raw` (a whole request) and return (status, body)."""
        connection = await self._acquire()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        connection.waiter = waiter
        assert connection.transport is not None
        connection.transport.write(raw)
        try:
            answer = await waiter
        except BaseException:
            connection.close()  # abandoned mid-response: its late answer must not be read
            self._release(None)
            raise
        self._release(connection if connection.open else None)
        return answer

    async def _acquire(self) -> Connection:
        loop = asyncio.get_running_loop()
        while True:
            while self.free:
                connection = self.free.pop()
                if connection.open:
                    return connection
                self.opened -= 1
            if self.opened < self.size:
                self.opened += 1
                try:
                    _, connection = await loop.create_connection(Connection, self.host, self.port)
                except BaseException:
                    self._release(None)
                    raise
                self.all.append(connection)
                return connection
            handed: asyncio.Future[Connection | None] = loop.create_future()
            self.waiting.append(handed)
            try:
                given = await handed
            except asyncio.CancelledError:
                if handed.done() and not handed.cancelled():
                    self._release(handed.result())  # handed over as we were cancelled
                raise
            if given is not None:
                if given.open:
                    return given
                self.opened -= 1

    def _release(self, connection: Connection | None) -> None:
        """Give `connection` (None: one was closed) to the next waiting request, or keep it."""
        if connection is None:
            self.opened -= 1
        while self.waiting:
            handed = self.waiting.popleft()
            if not handed.done():
                handed.set_result(connection)  # None: the waiter may open a new one
                return
        if connection is not None:
            self.free.append(connection)

    def close(self) -> None:
        for connection in self.all:
            connection.close()
