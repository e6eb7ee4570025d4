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

__all__ = [
    "Batch",
    "BatchHead",
    "Clock",
    "Sequencer",
    "decode_batch",
    "decode_head",
    "decode_span",
    "encode_batch",
]
