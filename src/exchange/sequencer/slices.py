"""A batch cut by account shard: what a gateway serving some accounts needs of a batch.

A gateway's cost must follow its own traffic, not the whole exchange's: so
beside every whole batch (topic `batch`, for market data and the reporter)
the engine publishes one `Slice` per account shard that has a subscriber
(topic `a/<shard>/`): the batch's span, the events of the shard's accounts
and the events of no account (instruments, sessions) that every view needs,
each with its event sequence number. A slice covers the same command
sequence numbers as its batch, so a follower finds gaps by seq and fills
them from the journal, cut the same way, exactly as it does with batches.

Accounts go to shards by `account % shards`: the engine allocates account
ids in sequence, so the shards stay even.
"""

import msgspec

from exchange.core.events import Event
from exchange.sequencer.batch import Batch


class SliceSpan(msgspec.Struct, array_like=True, gc=False):
    """A slice's head: decoded alone to skip a slice already had (its events are ignored)."""

    first_seq: int
    count: int
    """Commands in the batch: the slice covers `first_seq .. first_seq + count - 1`."""
    ts: int
    first_event_seq: int
    event_count: int
    """Events in the whole batch: the next batch's events are numbered after them."""
    shard: int
    shards: int


class Slice(SliceSpan, array_like=True, gc=False):
    seqs: list[int]
    """The event sequence number of each of `events`."""
    events: list[Event]

    @property
    def end(self) -> int:
        """The first command sequence number after this slice."""
        return self.first_seq + self.count


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Slice)
_span_decoder = msgspec.msgpack.Decoder(SliceSpan)


_TOPIC = b"a/"


def topic(shard: int) -> bytes:
    """The PUB topic of a shard's slices; the trailing `/` keeps shard 1 from matching 12."""
    return _TOPIC + b"%d/" % shard


def topic_shard(name: bytes) -> int | None:
    """The shard a topic names (`topic`'s inverse), or None for any other topic."""
    if not (name.startswith(_TOPIC) and name.endswith(b"/")):
        return None
    digits = name[len(_TOPIC) : -1]
    return int(digits) if digits.isdigit() else None


def shard_of(account: int, shards: int) -> int:
    return account % shards


def cut(batch: Batch, shards: int, wanted: frozenset[int] | set[int]) -> dict[int, Slice]:
    """The slices of `batch` for the `wanted` shards (of `shards`), in event order."""
    picked: dict[int, tuple[list[int], list[Event]]] = {shard: ([], []) for shard in wanted}
    everyone = list(picked.values())
    seq = batch.first_event_seq
    for events in batch.events:
        for event in events:
            account = getattr(event, "account", 0)
            if account:
                target = picked.get(account % shards)
                if target is not None:
                    target[0].append(seq)
                    target[1].append(event)
            else:  # no account: instruments, sessions; every view follows them
                for seqs, kept in everyone:
                    seqs.append(seq)
                    kept.append(event)
            seq += 1
    count = len(batch.commands)
    event_count = seq - batch.first_event_seq
    return {
        shard: Slice(
            batch.first_seq,
            count,
            batch.ts,
            batch.first_event_seq,
            event_count,
            shard,
            shards,
            seqs,
            events,
        )
        for shard, (seqs, events) in picked.items()
    }


def encode_slice(part: Slice) -> bytes:
    return _encoder.encode(part)


def decode_slice(payload: bytes) -> Slice:
    return _decoder.decode(payload)


def decode_slice_span(payload: bytes) -> tuple[int, int, int]:
    """(first seq, command count, shard count) without decoding the events: to skip a slice
    already had, and to check the publisher cuts as this follower expects."""
    span = _span_decoder.decode(payload)
    return span.first_seq, span.count, span.shards
