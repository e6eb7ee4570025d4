"""An engine snapshot: the core's canonical state plus where the sequencer stood."""

import msgspec

from exchange.core import ExchangeCore, encode, restore


class EngineSnapshot(msgspec.Struct, array_like=True):
    seq: int
    """The last inbound sequence number applied to the captured state."""
    next_event_seq: int
    last_ts: int
    core: bytes


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(EngineSnapshot)


def encode_snapshot(core: ExchangeCore, seq: int, next_event_seq: int, last_ts: int) -> bytes:
    return _encoder.encode(EngineSnapshot(seq, next_event_seq, last_ts, encode(core)))


def decode_snapshot(payload: bytes) -> tuple[EngineSnapshot, ExchangeCore]:
    snapshot = _decoder.decode(payload)
    return snapshot, restore(snapshot.core)
