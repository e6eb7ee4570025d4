"""The run's result: one JSON line that scripts compare, the same JSON on disk, and a PNG.

The line's fixed keys (`orders_sent`, `orders_per_s`, `market_orders`,
`rtt_ms` {p50, p99, p999, max}, `errors`) are the contract of issue 7;
`rtt_ms` is the seed's round trip: a market order from its scheduled
arrival to the fill coming back. The per-second percentiles go to the
file and the plot, not the line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exchange.loadgen.histograms import Recorder

REQUIRED = ("orders_sent", "orders_per_s", "market_orders", "rtt_ms", "errors")
PLOTTED = {"market": "market order round trip", "order": "every order (answer)"}


def build(
    recorder: Recorder,
    *,
    orders_sent: int,
    orders_answered: int,
    elapsed: float,
    market_orders: int,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The summary; `extra` adds run facts (users, protocol, streams, memory, metrics...)."""
    rtt = recorder.percentiles_ms("market")
    return {
        "orders_sent": orders_sent,
        "orders_answered": orders_answered,
        "orders_per_s": round(orders_answered / elapsed, 1) if elapsed > 0 else 0.0,
        "market_orders": market_orders,
        "market_filled": rtt["count"],
        "rtt_ms": rtt,
        "order_ms": recorder.percentiles_ms("order"),
        "marketable_ms": recorder.percentiles_ms("marketable"),
        "cancel_ms": recorder.percentiles_ms("cancel"),
        "errors": dict(sorted(recorder.errors.items())),
        "outcomes": dict(sorted(recorder.outcomes.items())),
        **extra,
    }


def line(summary: Mapping[str, Any]) -> str:
    """The one JSON line for stdout (no per-second series)."""
    return json.dumps({k: v for k, v in summary.items() if k != "per_second"}, sort_keys=False)


def write(out: Path, name: str, summary: Mapping[str, Any], recorder: Recorder) -> Path:
    """bench JSON (with the per-second series) and the PNG; returns the JSON's path."""
    out.mkdir(parents=True, exist_ok=True)
    full = {**summary, "per_second": {k: recorder.time_series(k) for k in PLOTTED}}
    path = out / f"{name}.json"
    path.write_text(json.dumps(full, indent=2))
    plot(recorder, out / f"{name}.png", title=str(summary.get("title", name)))
    return path


def plot(recorder: Recorder, path: Path, title: str) -> None:
    """Latency percentiles per second of the run, log scale (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(PLOTTED), 1, figsize=(10, 4 * len(PLOTTED)), squeeze=False)
    for axis, (name, label) in zip(axes[:, 0], PLOTTED.items(), strict=True):
        rows = recorder.time_series(name)
        seconds = [r["second"] for r in rows]
        for key, style in (("p50", "-"), ("p99", "-"), ("p999", "--"), ("max", ":")):
            axis.plot(seconds, [max(r[key], 0.001) for r in rows], style, label=key)
        axis.set_yscale("log")
        axis.set_xlabel("second of the run (scheduled arrival)")
        axis.set_ylabel("ms")
        axis.set_title(f"{label}: {title}")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
