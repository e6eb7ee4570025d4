"""What following the engine costs each reader, per command, in CPU: the capacity model's input.

Every reader of the feed (a gateway's order view, a FIX acceptor's, market
data's books, the reporter's rows) decodes each published message and folds
it into its projection. This replays the standard workload through the core
in batches of 1,000 commands, encodes the batches (and one shard's slices)
as the engine publishes them, then times, in process CPU time:

- `gateway_whole`: decode_batch + ExchangeView.apply (a gateway or FIX
  acceptor following the whole exchange, as before account shards);
- `gateway_shard`: decode_slice + ExchangeView.apply for one shard of N
  (a gateway of one account shard: its cost per command of the exchange);
- `marketdata`: decode_batch + MarketBooks.apply (no subscribers);
- `reporter`: decode_batch + Projector.add + take (rows built, not written).

    python bench/followers.py [--orders 200000] [--shards 16] [--runs 3]

One JSON line, microseconds per command of the whole exchange.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange.marketdata.books import MarketBooks
from exchange.reporter.projector import Projector
from exchange.sequencer import (
    cut,
    decode_batch,
    decode_slice,
    encode_batch,
    encode_slice,
)
from exchange.views.order_view import ExchangeView
from slices import batches


def timed(payloads: list[bytes], follower: Callable[[], Callable[[bytes], object]], runs: int,
          commands: int) -> float:  # fmt: skip
    """Median CPU microseconds per command of a fresh follower consuming every payload."""
    times = []
    for _ in range(runs):
        consume = follower()
        started = time.process_time()
        for payload in payloads:
            consume(payload)
        times.append(time.process_time() - started)
    return round(statistics.median(times) / commands * 1e6, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = batches(args.orders)
    commands = sum(len(b.commands) for b in work)
    whole = [encode_batch(b) for b in work]
    shard = [encode_slice(cut(b, args.shards, {1})[1]) for b in work]

    def gateway_whole() -> Callable[[bytes], object]:
        view = ExchangeView()
        return lambda payload: view.apply(decode_batch(payload))

    def gateway_shard() -> Callable[[bytes], object]:
        view = ExchangeView()
        return lambda payload: view.apply(decode_slice(payload))

    def marketdata() -> Callable[[bytes], object]:
        books = MarketBooks()
        return lambda payload: books.apply(decode_batch(payload))

    def reporter() -> Callable[[bytes], object]:
        projector = Projector()

        def consume(payload: bytes) -> None:
            projector.add(decode_batch(payload))
            projector.take()

        return consume

    result = {
        "commands": commands,
        "shards": args.shards,
        "gateway_whole_us": timed(whole, gateway_whole, args.runs, commands),
        "gateway_shard_us": timed(shard, gateway_shard, args.runs, commands),
        "marketdata_us": timed(whole, marketdata, args.runs, commands),
        "reporter_us": timed(whole, reporter, args.runs, commands),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
