"""Ranges of an engine node's journal over the network: gap fill for followers elsewhere.

A gateway, FIX acceptor or market-data server on another machine has no
journal directory to read when it misses published batches (a restart, a
full queue); it asks an engine node for the records from a sequence number
on (`JournalRangeClient`, used by the `BatchFeed`), and the node answers
from its journal (`JournalService`). Records go as they are on disk, so
what a remote follower applies is byte for byte what a local one would.

The service is a thread of the engine's process with a ZeroMQ context and
socket of its own, behind CURVE like every engine socket (C1): only the
exchange's keys get an answer. It reads files and sends bytes (it decodes
nothing), so it takes little of the engine thread's interpreter time; an
answer is bounded in records and bytes. Every node of a cluster serves its
own journal (the journals of all nodes are prefixes of one log), so a
follower lists them all and asks the next when one does not answer.
"""

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import msgspec
import zmq
import zmq.asyncio

from exchange.engine.client import split_endpoints
from exchange.engine.curve import ClientKeys, CurveServer, KeyDirectory
from exchange.journal import JournalCorruptError, JournalReader

log = logging.getLogger(__name__)

MAX_RECORDS: Final = 1_000
"""Records in one answer at most (a follower asks again from where it got to)."""
MAX_BYTES: Final = 8 * 1024 * 1024
"""Bytes of records in one answer at most (at least one record is always sent)."""


class RangeRequest(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    from_seq: int
    limit: int


class RangeReply(msgspec.Struct, array_like=True):
    records: list[bytes]
    """Journal record payloads (encoded batches) from `from_seq` on, in order."""
    error: str = ""


_request_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(RangeRequest)
_reply_encoder = msgspec.msgpack.Encoder()
_reply_decoder = msgspec.msgpack.Decoder(RangeReply)


class JournalService:
    """Answers `RangeRequest`s from `journal` on `endpoint` (a thread; `start`, `stop`)."""

    def __init__(self, journal: Path, endpoint: str, keys: KeyDirectory) -> None:
        self.journal = journal
        self.endpoint = endpoint
        self.context = zmq.Context()
        self.curve = CurveServer(self.context, keys)
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.curve.apply(self.socket)
        self.socket.bind(endpoint)
        self._readers: dict[int, JournalReader] = {}
        """Readers left where an answer ended, by position: the next request continues."""
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="journal-service", daemon=True)
        self.served = 0

    def start(self) -> "JournalService":
        self._running.set()
        self._thread.start()
        log.info("journal ranges served on %s", self.endpoint)
        return self

    def _read(self, request: RangeRequest) -> RangeReply:
        if request.from_seq < 1 or request.limit < 1:
            return RangeReply([], error="from_seq and limit must be positive")
        reader = self._readers.pop(request.from_seq, None)
        if reader is None:
            reader = JournalReader(self.journal, from_seq=request.from_seq)
        try:
            records = reader.poll(min(request.limit, MAX_RECORDS))
        except JournalCorruptError as error:
            return RangeReply([], error=str(error)[:200])
        payloads: list[bytes] = []
        size = 0
        for record in records:
            if payloads and size + len(record.payload) > MAX_BYTES:
                break  # the rest on the next request: the reader is not kept
            payloads.append(record.payload)
            size += len(record.payload)
        else:
            if len(self._readers) >= 16:
                self._readers.pop(next(iter(self._readers)))
            self._readers[reader.position] = reader
        return RangeReply(payloads)

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        while self._running.is_set():
            if not poller.poll(100):
                continue
            try:
                identity, frame = self.socket.recv_multipart(zmq.NOBLOCK)
            except (zmq.Again, ValueError):
                continue
            try:
                reply = self._read(_request_decoder.decode(frame))
            except msgspec.DecodeError as error:
                reply = RangeReply([], error=f"malformed request: {error}"[:200])
            except Exception as error:  # a bad disk must not end the service silently
                log.exception("journal range failed")
                reply = RangeReply([], error=f"read failed: {error}"[:200])
            self.served += 1
            self.socket.send_multipart([identity, _reply_encoder.encode(reply)])

    def stop(self) -> None:
        self._running.clear()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.socket.close(linger=0)
        self.curve.stop()
        self.context.term()


@contextlib.contextmanager
def serving_journal(journal: Path, endpoint: str, keys: KeyDirectory) -> Iterator[None]:
    """The journal served on `endpoint` while the body runs ("": not served)."""
    if not endpoint:
        yield
        return
    service = JournalService(journal, endpoint, keys.ensure()).start()
    try:
        yield
    finally:
        service.stop()


class JournalUnavailableError(RuntimeError):
    """No engine node answered a range request in time (the follower tries again later)."""


class JournalRangeClient:
    """A follower's side: records from a sequence number on, from any node that answers."""

    def __init__(self, endpoints: str, *, keys: ClientKeys, timeout: float = 2.0) -> None:
        self.endpoints = split_endpoints(endpoints)
        self.keys = keys
        self.timeout = timeout
        self._context = zmq.asyncio.Context()
        self._socket: zmq.asyncio.Socket | None = None
        self._next = 0
        """The node to ask first: the one that answered last."""

    def _connect(self, endpoint: str) -> zmq.asyncio.Socket:
        socket = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        self.keys.apply(socket)
        socket.connect(endpoint)
        return socket

    async def read(self, from_seq: int, limit: int) -> list[bytes]:
        """Record payloads from `from_seq` on (maybe none yet); JournalUnavailableError when no
        node answers, RuntimeError when one answers with an error."""
        for attempt in range(len(self.endpoints)):
            index = (self._next + attempt) % len(self.endpoints)
            if self._socket is None:
                self._socket = self._connect(self.endpoints[index])
            socket = self._socket
            await socket.send(_request_encoder.encode(RangeRequest(from_seq, limit)))
            if await socket.poll(int(self.timeout * 1000)):
                reply = _reply_decoder.decode(await socket.recv())
                self._next = index
                if reply.error:
                    raise RuntimeError(f"journal range from {from_seq}: {reply.error}")
                return reply.records
            # No answer: this socket may hold a late reply; drop it and ask the next node.
            socket.close(linger=0)
            self._socket = None
        raise JournalUnavailableError(f"no journal service answered at {self.endpoints}")

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(zmq.ZMQError):
                self._socket.close(linger=0)
        self._context.destroy(linger=0)
