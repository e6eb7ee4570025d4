"""How long a snapshot stalls trading: fork pause in the parent vs encoding in-process.

Loads the state the standard workload leaves behind (see bench/core.py),
then measures, as medians of several runs: the parent's pause for a forked
snapshot (fork + return), the child's total time to encode and write it,
and the in-process alternative (encode on the engine thread). Last line:
one JSON object.

    python bench/snapshot.py --workload bench/out/stream.npy
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from core import load_workload, setup_commands, stream_commands
from exchange.core import ExchangeCore, encode
from exchange.journal import ForkedSnapshotWriter, SnapshotStore


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    stream, _ = load_workload(args.workload)
    core = ExchangeCore()
    for command in setup_commands(int(stream["sym"].max()) + 1):
        core.apply(command, 1)  # type: ignore[arg-type]
    for command in stream_commands(stream):
        core.apply(command, 1)  # type: ignore[arg-type]
    pauses, child_totals, inline = [], [], []
    size = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = SnapshotStore(Path(tmp))
        writer = ForkedSnapshotWriter(store)
        for i in range(args.runs):
            started = time.perf_counter()
            writer.start(i + 1, lambda: encode(core))
            pauses.append(time.perf_counter() - started)
            writer.wait()
            child_totals.append(time.perf_counter() - started)
            started = time.perf_counter()
            payload = encode(core)
            inline.append(time.perf_counter() - started)
            size = len(payload)
    result = {
        "orders_in_state": len(core.orders),
        "live_orders": sum(1 for o in core.orders.values() if o.is_live),
        "snapshot_mb": round(size / 2**20, 1),
        "fork_pause_ms": round(statistics.median(pauses) * 1000, 2),
        "forked_snapshot_total_ms": round(statistics.median(child_totals) * 1000, 1),
        "inline_encode_ms": round(statistics.median(inline) * 1000, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
