"""The whole exchange's sustained rate: `exchange bench --spawn` at several rates, runs each.

Each run spawns a fresh engine + gateway (a new temporary data directory)
and drives them open loop for `--seconds`. Per rate it prints the median
over runs of throughput, market-order round trip p50/p99/p99.9, errors and
the gateway's and engine's CPU per request, and at the end the highest
rate whose median p99 is within `--p99-ms` with every request answered
and no errors. Writes the
table as JSON and a PNG of p99 against the offered rate.

    python bench/sweep.py --rates 500,1000,1500,2000 --runs 3 --seconds 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def one_run(rate: float, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="exchange-sweep-") as data:
        command = [
            sys.executable, "-m", "exchange", "bench", "--spawn", "--data-dir", data,
            "--users", str(args.users), "--rate", str(rate), "--seconds", str(args.seconds),
            "--protocol", args.protocol, "--no-progress", "--out", str(out),
            "--name", f"sweep-{args.protocol}-{rate:g}",
        ]  # fmt: skip
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=900, cwd=ROOT
        )
    if done.returncode != 0:
        raise RuntimeError(f"exchange bench failed at {rate}/s: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def summarize(rate: float, runs: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = [r.get("cpu_us_per_request", {}) for r in runs]
    return {
        "offered": rate,
        "achieved": median([r["orders_per_s"] for r in runs]),
        "rtt_p50_ms": median([r["rtt_ms"]["p50"] for r in runs]),
        "rtt_p99_ms": median([r["rtt_ms"]["p99"] for r in runs]),
        "rtt_p999_ms": median([r["rtt_ms"]["p999"] for r in runs]),
        "rtt_p99_runs": [r["rtt_ms"]["p99"] for r in runs],
        "order_p99_ms": median([r["order_ms"]["p99"] for r in runs]),
        "errors": [sum(r["errors"].values()) for r in runs],
        "unanswered": [r["orders_sent"] - r["orders_answered"] for r in runs],
        "client_lag_p99_ms": median([r["client_lag_ms"].get("p99", 0) for r in runs]),
        "gateway_cpu_us": median([c.get("gateway", 0) for c in cpu]),
        "engine_cpu_us": median([c.get("engine", c.get("fix", 0)) for c in cpu]),
        "fix_cpu_us": median([c.get("fix", 0) for c in cpu]),
    }


def plot(rows: list[dict[str, Any]], path: Path, limit: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    rates = [r["offered"] for r in rows]
    for key, label in (("rtt_p50_ms", "p50"), ("rtt_p99_ms", "p99"), ("rtt_p999_ms", "p99.9")):
        ax.plot(rates, [r[key] for r in rows], marker="o", label=label)
    ax.axhline(limit, color="red", linestyle=":", label=f"{limit:g} ms")
    ax.set_yscale("log")
    ax.set_xlabel("offered orders + cancels per second")
    ax.set_ylabel("market order round trip, ms (median of runs)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,1000,1500,2000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--protocol", choices=["rest", "fix"], default="rest")
    parser.add_argument("--p99-ms", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for rate in (float(r) for r in args.rates.split(",")):
        runs = [one_run(rate, args, args.out) for _ in range(args.runs)]
        row = summarize(rate, runs)
        rows.append(row)
        print(json.dumps(row), flush=True)
    within = [
        r["offered"]
        for r in rows
        if r["rtt_p99_ms"] <= args.p99_ms and not any(r["errors"]) and not any(r["unanswered"])
    ]  # fmt: skip
    best = max(within, default=None)
    summary = {"protocol": args.protocol, "users": args.users, "seconds": args.seconds,
               "runs": args.runs, "p99_limit_ms": args.p99_ms,
               "highest_rate_within_limit": best, "rows": rows}  # fmt: skip
    stem = args.out / f"sweep-{args.protocol}"
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    title = f"{args.protocol}: {args.users} users, {args.runs} runs x {args.seconds:g} s per rate"
    plot(rows, stem.with_suffix(".png"), args.p99_ms, title)
    print(json.dumps({"highest_rate_within_limit": best, "p99_limit_ms": args.p99_ms}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
