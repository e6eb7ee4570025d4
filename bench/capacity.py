"""The capacity model: cores per process kind for the seed's rates, from measured CPU per order.

Inputs are measurements (bench/RESULTS.md says which command gave each):
CPU microseconds per order of each process kind on its own path, the cost
of following the engine's feed per command of the whole exchange (whole
feed, or one account shard of N: bench/followers.py), and the achieved
REST rate with 1 and 2 gateway workers. The model:

- the engine is one thread: its rate is at most 1e6 / engine_us;
- a gateway (REST or FIX) serving r orders/s of an exchange at R costs
  r * own_us + R * follow_us (the whole feed, or its shard's);
- market data and the reporter cost R * their following cost (plus
  their clients / the database, not modelled);

and prints the cores each kind needs at 40,000/s (the seed's average) and
200,000/s (its peak), what a 16-core machine and three machines would
carry, and writes a plot of achieved REST rate against worker processes
(measured points, and the model's line beyond them).

    python bench/capacity.py --engine-us 8.5 --rest-us 150 --fix-us 180 \\
        --follow-whole-us 6 --follow-shard-us 0.5 --shards 16 \\
        --marketdata-us 8 --reporter-us 20 --workers-rate 1:1400,2:2300 [--out bench/plots]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

RATES = {"average": 40_000, "peak": 200_000}


def gateway_cores(rate: float, own_us: float, follow_us: float, processes: int) -> float:
    """Cores for `processes` gateways carrying `rate` together, each following the feed."""
    return (rate * own_us + processes * rate * follow_us) / 1e6


def gateways_needed(rate: float, own_us: float, follow_us: float) -> int:
    """Gateway processes (one core each) to carry `rate`, each following `follow_us` per
    command of the whole exchange: the smallest n with rate * own / n + rate * follow <= 1."""
    spare = 1e6 - rate * follow_us
    if spare <= 0:
        return -1  # following alone fills a core: shard the feed
    return max(1, math.ceil(rate * own_us / spare))


def model(args: argparse.Namespace) -> dict[str, object]:
    engine_max = 1e6 / args.engine_us
    table: dict[str, object] = {"engine_max_orders_per_s": round(engine_max)}
    for name, rate in RATES.items():
        rest_whole = gateways_needed(rate, args.rest_us, args.follow_whole_us)
        rest_shard = gateways_needed(rate, args.rest_us, args.follow_shard_us)
        table[name] = {
            "orders_per_s": rate,
            "engine_cores": round(rate * args.engine_us / 1e6, 2),
            "engine_fits_one_thread": rate <= engine_max,
            "rest_gateways_whole_feed": rest_whole,
            "rest_gateways_sharded": rest_shard,
            "fix_cores_if_all_orders_came_over_fix": round(rate * args.fix_us / 1e6, 2),
            "marketdata_cores": round(rate * args.marketdata_us / 1e6, 2),
            "reporter_cores": round(rate * args.reporter_us / 1e6, 2),
        }
    # One 16-core machine: the engine's thread and its journal, market data and the reporter
    # on their own cores, the rest REST gateways of one shard each.
    per_gateway = 1e6 / (args.rest_us + args.follow_shard_us)
    gateways_16 = 16 - 1 - 1 - 2
    table["one_16_core_machine"] = {
        "rest_gateways": gateways_16,
        "rest_orders_per_s": round(min(gateways_16 * per_gateway, engine_max)),
        "limited_by": "engine" if gateways_16 * per_gateway > engine_max else "gateways",
    }
    # Three 16-core machines: the engine cluster's three nodes one per machine, gateways and
    # FIX on every machine, market data and the reporter on two of them.
    gateways_3 = 3 * 16 - 3 - 2 - 2
    table["three_16_core_machines"] = {
        "rest_gateways": gateways_3,
        "rest_orders_per_s_gateways": round(gateways_3 * per_gateway),
        "orders_per_s": round(min(gateways_3 * per_gateway, engine_max)),
        "limited_by": "engine" if gateways_3 * per_gateway > engine_max else "gateways",
    }
    return table


def plot(points: dict[int, float], args: argparse.Namespace, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = sorted(points)
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(workers, [points[w] for w in workers], "o-", label="measured (this 2-core box)")
    beyond = list(range(1, 17))
    per_gateway = 1e6 / (args.rest_us + args.follow_shard_us)
    axes.plot(beyond, [min(w * per_gateway, 1e6 / args.engine_us) for w in beyond], "--",
              label="model: one core each, one account shard each")  # fmt: skip
    axes.set_xlabel("gateway worker processes")
    axes.set_ylabel("REST orders/s")
    axes.set_title("Achieved REST rate against gateway workers")
    axes.legend()
    axes.grid(True, alpha=0.3)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "capacity-workers.png"
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("engine", "rest", "fix", "follow-whole", "follow-shard", "marketdata",
                 "reporter"):  # fmt: skip
        parser.add_argument(f"--{name}-us", type=float, required=True)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--workers-rate", default="", help="measured points, W:RATE,...")
    parser.add_argument("--out", type=Path, default=Path("bench/plots"))
    args = parser.parse_args()
    result = model(args)
    if args.workers_rate:
        points = {int(w): float(r) for w, r in (p.split(":") for p in args.workers_rate.split(","))}
        result["plot"] = str(plot(points, args, args.out))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
