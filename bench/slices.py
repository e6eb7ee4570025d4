"""What cutting batches by account shard costs the engine thread (engine/publisher.py).

The standard workload runs through the core in batches of 1,000 commands;
then each batch is cut (sequencer/slices.py) and the slices encoded, as the
engine's publisher does for the shards gateways follow, and timed against
encoding the whole batch (what the engine does for every batch anyway).

    python bench/slices.py [--orders 200000] [--shards 16] [--runs 3]

Prints one JSON line: CPU microseconds per command for the whole batch's
encoding and for cutting with 1, half and all shards followed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import load_workload, setup_commands, stream_commands
from exchange.core import ExchangeCore
from exchange.sequencer import Batch, Sequencer, cut, encode_batch, encode_slice


def batches(orders: int, size: int = 1_000) -> list[Batch]:
    stream, _ = load_workload(None)
    commands = [*setup_commands(100), *stream_commands(stream[:orders])]
    core = ExchangeCore()
    clock = iter(range(1, 10**12))
    sequencer = Sequencer(lambda: next(clock))
    sealed = []
    for start in range(0, len(commands), size):
        chunk = commands[start : start + size]
        first_seq, ts = sequencer.stamp(chunk)  # type: ignore[arg-type]
        events = [core.apply(c, ts) for c in chunk]  # type: ignore[arg-type]
        sealed.append(sequencer.seal(first_seq, ts, chunk, events))  # type: ignore[arg-type]
    return sealed


def cpu_us_per_command(work: list[Batch], action: object, runs: int) -> float:
    commands = sum(len(b.commands) for b in work)
    times = []
    for _ in range(runs):
        started = time.process_time()
        for batch in work:
            action(batch)  # type: ignore[operator]
        times.append(time.process_time() - started)
    return round(statistics.median(times) / commands * 1e6, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = batches(args.orders)
    shards = args.shards

    def cutting(followed: set[int]) -> object:
        def action(batch: Batch) -> None:
            for part in cut(batch, shards, followed).values():
                encode_slice(part)

        return action

    result = {
        "commands": sum(len(b.commands) for b in work),
        "events": sum(b.event_count for b in work),
        "shards": shards,
        "encode_whole_batch_us": cpu_us_per_command(work, encode_batch, args.runs),
        "cut_1_shard_us": cpu_us_per_command(work, cutting({0}), args.runs),
        "cut_half_us": cpu_us_per_command(work, cutting(set(range(shards // 2))), args.runs),
        "cut_all_us": cpu_us_per_command(work, cutting(set(range(shards))), args.runs),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
