"""The engine's wire protocol with gateways (ZeroMQ, one msgpack frame per message).

A gateway's DEALER sends `Request`s; the engine's ROUTER answers each with
a `Reply` carrying the command's sequence number and its events, sent only
after the command is durable. A query is answered at once, between
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
