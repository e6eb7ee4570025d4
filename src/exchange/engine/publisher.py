"""The engine's feed socket: every batch whole, and each followed account shard's slice.

Market data and the reporter need the whole exchange (topic `batch`: the
exact bytes of the journal record). A gateway serving some accounts needs
only theirs, so for every account shard someone subscribes to (topic
`a/<shard>/`) the batch is also published cut to that shard
(sequencer/slices.py); ZeroMQ filters by topic at the publisher, so a
gateway is sent, and decodes, only its shard's events.

The socket is an XPUB: it tells the publisher which topics have
subscribers, so a shard nobody follows costs nothing, and an exchange run
with one gateway following everything pays for no slices at all.
"""

import logging
from typing import Any

import zmq

from exchange.engine.curve import CurveServer
from exchange.engine.protocol import TOPIC_BATCH
from exchange.sequencer import Batch, cut, decode_batch, encode_slice, topic
from exchange.sequencer.slices import topic_shard

log = logging.getLogger(__name__)


class FeedPublisher:
    def __init__(
        self, context: "zmq.Context[Any]", curve: CurveServer, endpoint: str, shards: int
    ) -> None:
        self.shards = shards
        """Account shards (account % shards); 0: whole batches only."""
        self.followed: set[int] = set()
        """The shards with at least one subscriber now."""
        self.socket = context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        curve.apply(self.socket)
        self.socket.bind(endpoint)

    def _read_subscriptions(self) -> None:
        """Subscriptions that came in since the last batch: b"\\x01" + topic to follow,
        b"\\x00" + topic when its last subscriber left (XPUB passes on no repeats)."""
        socket = self.socket
        while True:
            try:
                message = socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            subscribed, shard = message[:1] == b"\x01", topic_shard(message[1:])
            if shard is None:
                continue  # whole batches, or not ours
            if not shard < self.shards:
                log.warning("subscription to shard %d of %d: never published", shard, self.shards)
            elif subscribed:
                self.followed.add(shard)
            else:
                self.followed.discard(shard)

    def publish(self, payload: bytes, batch: Batch | None = None) -> None:
        """Send one journaled batch (its record's bytes; `batch` decoded, if at hand)."""
        send = self.socket.send_multipart
        send([TOPIC_BATCH, payload], copy=False)
        if not self.shards:
            return
        self._read_subscriptions()
        if not self.followed:
            return
        whole = batch if batch is not None else decode_batch(payload)
        for shard, part in cut(whole, self.shards, self.followed).items():
            send([topic(shard), encode_slice(part)], copy=False)

    def close(self) -> None:
        self.socket.close(linger=0)
