"""The journal record: one sequenced batch of commands with the events they produced.

Commands `first_seq .. first_seq + len(commands) - 1` share the timestamp
`ts` (epoch nanoseconds) at which the batch was sequenced. `events[i]` are
the events of `commands[i]`, numbered from `first_event_seq` on without gaps.
Readers that only need the commands (recovery, the standby) decode a
`BatchHead`, which leaves the events as raw bytes.
"""

import msgspec

from exchange.core.commands import Command
from exchange.core.events import Event


class Batch(msgspec.Struct, array_like=True, gc=False):
    first_seq: int
    ts: int
    first_event_seq: int
    commands: list[Command]
    events: list[list[Event]]

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.commands) - 1

    @property
    def event_count(self) -> int:
        return sum(len(events) for events in self.events)


class BatchHead(msgspec.Struct, array_like=True, gc=False):
    first_seq: int
    ts: int
    first_event_seq: int
    commands: list[Command]
    events: msgspec.Raw


class _Span(msgspec.Struct, array_like=True, gc=False):
    first_seq: int
    ts: int
    first_event_seq: int
    commands: list[msgspec.Raw]


_encoder = msgspec.msgpack.Encoder()
_span_decoder = msgspec.msgpack.Decoder(_Span)
_batch_decoder = msgspec.msgpack.Decoder(Batch)
_head_decoder = msgspec.msgpack.Decoder(BatchHead)
_events_encoder = msgspec.msgpack.Encoder()


def encode_batch(batch: Batch) -> bytes:
    return _encoder.encode(batch)


def decode_batch(payload: bytes) -> Batch:
    return _batch_decoder.decode(payload)


def decode_head(payload: bytes) -> BatchHead:
    return _head_decoder.decode(payload)


def decode_span(payload: bytes) -> tuple[int, int]:
    """(first seq, command count) without decoding the commands: to skip a batch already had."""
    span = _span_decoder.decode(payload)
    return span.first_seq, len(span.commands)


def encode_events(events: list[list[Event]]) -> bytes:
    """The exact bytes `events` take inside an encoded batch (for determinism checks)."""
    return _events_encoder.encode(events)
