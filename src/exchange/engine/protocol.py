"""The engine's wire protocol with gateways (ZeroMQ, one msgpack frame per message).

A gateway's DEALER sends `Request`s; the engine's ROUTER answers each with
a `Reply` carrying the command's sequence number and its events, sent only
after the command is durable. A message holds one `Request`, or a list of
them (what a client gathered in one turn of its event loop, at most
`MAX_REQUESTS_PER_MESSAGE`); the engine answers a list with lists, one
message per batch it ran for that client, so a busy gateway pays for one
message per turn, not one per order. A query is answered at once, between
batches, with `seq` 0 and no events. Every batch is also published whole on the
PUB socket (topic `TOPIC_BATCH`), as the exact bytes of its journal record.
"""

from typing import Final

import msgspec

from exchange.core.commands import RequestCommand
from exchange.core.events import Event
from exchange.engine.queries import AccountState, Query

TOPIC_BATCH: Final = b"batch"


class Request(msgspec.Struct, array_like=True):
    request_id: int
    command: RequestCommand | Query
    """A command to sequence, or a read-only query answered without sequencing."""


class Reply(msgspec.Struct, array_like=True):
    request_id: int
    seq: int
    """The command's inbound sequence number (0 when it was refused before sequencing)."""
    first_event_seq: int
    events: list[Event]
    error: str = ""
    """Why the request could not be decoded; the command was not sequenced."""
    state: AccountState | None = None
    """The answer to a query (None: no such account)."""
    stages: tuple[int, int, int, int] | None = None
    """Where the command spent its time in the engine, in ns (`STAGES`); None for a query."""


STAGES: Final = ("queue", "match", "replicate", "journal")
"""queue: from the engine reading the request to its batch starting; match: the batch
through the core (stamp, apply, encode); replicate: the cluster's quorum write (0 alone);
journal: the batch's write (and fsync, by policy) to the local journal."""


request_encoder = msgspec.msgpack.Encoder()
request_decoder = msgspec.msgpack.Decoder(Request)
reply_encoder = msgspec.msgpack.Encoder()
reply_decoder = msgspec.msgpack.Decoder(Reply)


MAX_REQUESTS_PER_MESSAGE: Final = 256
"""Requests a client puts in one message at most (the engine reads whole messages)."""

requests_encoder = msgspec.msgpack.Encoder()
requests_decoder = msgspec.msgpack.Decoder(list[Request])
replies_decoder = msgspec.msgpack.Decoder(list[Reply])

_ARRAY16, _ARRAY32 = 0xDC, 0xDD


def _is_array(byte: int) -> bool:
    return 0x90 <= byte <= 0x9F or byte in (_ARRAY16, _ARRAY32)


def is_list(frame: bytes | memoryview) -> bool:
    """Whether a message holds a list of Requests (Replies), not one: both are msgpack arrays,
    but a Request's (Reply's) first element is an int, a list's first element an array."""
    if len(frame) == 0 or not _is_array(frame[0]):
        return False
    head = frame[0]
    start = 1 if head <= 0x9F else 3 if head == _ARRAY16 else 5
    if start == 1 and head == 0x90:
        return True  # an empty list
    return len(frame) > start and _is_array(frame[start])


def pack_list(encoded: list[bytes]) -> bytes:
    """A msgpack array of already-encoded items (replies encoded once, sent together)."""
    count = len(encoded)
    if count < 16:
        head = bytes((0x90 | count,))
    elif count < 1 << 16:
        head = bytes((_ARRAY16,)) + count.to_bytes(2, "big")
    else:
        head = bytes((_ARRAY32,)) + count.to_bytes(4, "big")
    return head + b"".join(encoded)
