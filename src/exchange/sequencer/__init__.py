"""The sequencer: the single writer that numbers and timestamps everything."""

from exchange.sequencer.batch import (
    Batch,
    BatchHead,
    decode_batch,
    decode_head,
    decode_span,
    encode_batch,
)
from exchange.sequencer.sequencer import Clock, Sequencer
from exchange.sequencer.slices import Slice, cut, decode_slice, encode_slice, shard_of, topic

__all__ = [
    "Batch",
    "BatchHead",
    "Clock",
    "Sequencer",
    "Slice",
    "cut",
    "decode_batch",
    "decode_head",
    "decode_slice",
    "decode_span",
    "encode_batch",
    "encode_slice",
    "shard_of",
    "topic",
]
