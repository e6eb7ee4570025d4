"""What an operator sets for the engine (and its standby): plain values, one default each.

The running engine's `EngineConfig` is built from these by the composition
root (`exchange.config`); this module stays light (msgspec only) so the CLI
can describe every option without importing the engine.
"""

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

AccountShard = Annotated[
    int,
    Meta(
        ge=-1,
        le=4095,
        description="serve only accounts with id % engine.account_shards == this, "
        "following only their feed (-1: every account)",
    ),
]
"""A gateway's or FIX acceptor's account shard (engine/publisher.py)."""


class EngineSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    endpoint: Annotated[str, Meta(description="requests (ZeroMQ ROUTER)")] = "tcp://127.0.0.1:5555"
    publish: Annotated[str, Meta(description="batches (ZeroMQ PUB)")] = "tcp://127.0.0.1:5556"
    durability: Annotated[
        Literal["write", "fsync"],
        Meta(description="a batch is acknowledged once written (write) or on disk (fsync)"),
    ] = "write"
    calendar: Annotated[
        str,
        Meta(description="default (Sat-Thu 09:00-12:30 Asia/Tehran), always-open, or a JSON file"),
    ] = "default"
    max_batch: Annotated[int, Meta(ge=1, description="commands per batch at most")] = 1_000
    snapshot_every: Annotated[int, Meta(ge=1, description="commands between snapshots")] = 1_000_000
    account_shards: Annotated[
        int,
        Meta(
            ge=0,
            le=4096,
            description="batches also published cut by account % N, for gateways of one "
            "shard (0: whole batches only)",
        ),
    ] = 16
    journal_service: Annotated[
        str,
        Meta(description="where engine nodes serve journal ranges (ZeroMQ ROUTER; empty: off)"),
    ] = "tcp://127.0.0.1:5557"
    remote_journal: Annotated[
        bool,
        Meta(
            description="gateway, FIX and market data fill feed gaps from journal_service, "
            "not the local journal directory (on another machine)"
        ),
    ] = False
