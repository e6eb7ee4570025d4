"""The engine path under the standard workload: stamp, apply, journal append, durable.

Feeds the workload (see bench/core.py) through `JournaledCore.process` in
batches, once per durability policy, into a fresh data directory, and prints
commands/s and per-batch latency percentiles. The last line is one JSON
object with a result per policy. Trades, volume and notional are checked
against the expected figures, as in bench/core.py.

    python bench/journal.py --workload bench/out/stream.npy --batch 100
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

from core import load_workload, setup_commands, stream_commands
from exchange.core.enums import CancelReason
from exchange.core.events import Fill, OrderCanceled
from exchange.engine import JournaledCore
from exchange.journal import Durability


def percentile(sorted_values: list[int], q: float) -> float:
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index] / 1000.0  # ns -> us


def run_policy(
    durability: Durability, commands: list[object], setup: list[object], batch: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="exchange-bench-") as tmp:
        engine = JournaledCore(Path(tmp), durability=durability)
        engine.process(setup)  # type: ignore[arg-type]
        latencies: list[int] = []
        trades = volume = notional = cancels = 0
        gc.collect()
        gc.freeze()
        process = engine.process
        clock = time.perf_counter_ns
        started = time.perf_counter()
        for start in range(0, len(commands), batch):
            chunk = commands[start : start + batch]
            t0 = clock()
            result = process(chunk)  # type: ignore[arg-type]
            latencies.append(clock() - t0)
            for events in result.events:
                for event in events:
                    if type(event) is Fill and event.aggressor:
                        trades += 1
                        volume += event.quantity
                        notional += event.quantity * event.price
                    elif type(event) is OrderCanceled and event.reason == CancelReason.USER:
                        cancels += 1
        elapsed = time.perf_counter() - started
        gc.unfreeze()
        journal_bytes = sum(p.stat().st_size for p in engine.data.journal.iterdir())
        engine.close()
    latencies.sort()
    return {
        "policy": durability.value,
        "batch": batch,
        "commands": len(commands),
        "seconds": round(elapsed, 3),
        "commands_per_s": round(len(commands) / elapsed),
        "batch_us": {
            "p50": percentile(latencies, 0.50),
            "p99": percentile(latencies, 0.99),
            "p999": percentile(latencies, 0.999),
            "max": latencies[-1] / 1000.0,
        },
        "journal_mb": round(journal_bytes / 2**20, 1),
        "trades": trades,
        "volume": volume,
        "notional": notional,
        "cancels_accepted": cancels,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path)
    parser.add_argument("--batch", type=int, default=100, help="commands per batch")
    parser.add_argument("--runs", type=int, default=3, help="runs per policy (median reported)")
    parser.add_argument("--policies", default="write,fsync", help="comma-separated: write, fsync")
    args = parser.parse_args()
    stream, expected = load_workload(args.workload)
    setup = setup_commands(int(stream["sym"].max()) + 1)
    commands = stream_commands(stream)
    results = {}
    ok = True
    for name in args.policies.split(","):
        runs = [run_policy(Durability(name), commands, setup, args.batch) for _ in range(args.runs)]
        for run in runs:
            print(
                f"{name}: {run['commands_per_s']:,} commands/s {run['batch_us']}", file=sys.stderr
            )
        speeds = [int(str(r["commands_per_s"])) for r in runs]
        median = runs[speeds.index(sorted(speeds)[len(speeds) // 2])]
        median["runs"] = speeds
        if expected is not None:
            for key in ("trades", "volume", "notional", "cancels_accepted"):
                if median[key] != expected[key]:
                    print(f"MISMATCH {name} {key}: {median[key]} != {expected[key]}")
                    ok = False
        results[name] = median
    print(json.dumps(results))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
