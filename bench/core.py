"""Replay the standard order-book workload through the full core and measure it.

Sets the core up as ../shared/bench/README.md asks (a band wide enough for the
whole stream, funded accounts, a daily limit that is not reached, buyers and
sellers from disjoint account pools), converts the stream to commands (not
timed), then times `ExchangeCore.apply` over every command, in chunks of
`--chunk` (default 1,000, the engine's maximum batch) whose events are tallied
untimed and dropped after each chunk, as the engine drops them after each
batch. The last line
printed is one JSON object; trades, volume and notional must equal the
expected figures exactly, and the script exits non-zero when they do not.

    python bench/core.py --workload bench/out/stream.npy [--runs 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from exchange.core import (
    AddInstrument,
    CancelOrder,
    Deposit,
    ExchangeCore,
    NewOrder,
    OpenAccount,
    OpenSession,
    OrderType,
    Side,
    TimeInForce,
    state_hash,
)
from exchange.core import machine as machine_module
from exchange.core.enums import CancelReason
from exchange.core.events import Fill, OrderCanceled, OrderRejected

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = ROOT.parent / "shared" / "bench"
POOL = 50
"""Accounts per side: buyers are 1..POOL, sellers POOL+1..2*POOL."""
LIMIT, MARKET, CANCEL = 0, 1, 2
DEFAULT_CHUNK = 1_000
"""Commands applied per timed chunk (the engine's default maximum batch); events are
tallied untimed and dropped after each chunk, as the engine drops them after each batch."""


def symbol_name(index: int) -> str:
    return f"S{index:03d}"


def setup_commands(symbols: int) -> list[object]:
    """Instruments, funded accounts and an open session: everything before the stream."""
    commands: list[object] = []
    for s in range(symbols):
        commands.append(
            AddInstrument(
                symbol=symbol_name(s),
                name=f"Bench {s}",
                tick_size=1,
                lot_size=100,
                reference_price=10_000,
                max_order_quantity=1_000_000,
                band_bps=9_999,
                daily_limit=1_000_000_000,
            )
        )
    for account in range(1, 2 * POOL + 1):
        commands.append(OpenAccount(owner=f"bench-{account}"))  # a new core gives 1, 2, ...
        if account <= POOL:
            commands.append(
                Deposit(account=account, asset="IRR", amount=10**15, reference=f"cash-{account}")
            )
        else:
            for s in range(symbols):
                commands.append(
                    Deposit(
                        account=account,
                        asset=symbol_name(s),
                        amount=10**9,
                        reference=f"sh-{account}-{s}",
                    )
                )
    commands.append(OpenSession(trading_day=20240601))
    return commands


def stream_commands(stream: np.ndarray) -> list[object]:
    """Convert workload rows to core commands; order ids line up with the stream's oids."""
    commands: list[object] = []
    symbols = [symbol_name(s) for s in range(int(stream["sym"].max()) + 1)]
    sides = (Side.BUY, Side.SELL)
    for op, side, sym, oid, price, qty in stream.tolist():
        account = (1 if side == 0 else POOL + 1) + oid % POOL
        if op == CANCEL:
            commands.append(CancelOrder(account=account, order_id=oid))
        elif op == LIMIT:
            commands.append(
                NewOrder(
                    account=account,
                    client_order_id=str(oid),
                    symbol=symbols[sym],
                    side=sides[side],
                    order_type=OrderType.LIMIT,
                    time_in_force=TimeInForce.GTC,
                    price=price,
                    quantity=qty,
                )
            )
        else:
            commands.append(
                NewOrder(
                    account=account,
                    client_order_id=str(oid),
                    symbol=symbols[sym],
                    side=sides[side],
                    order_type=OrderType.MARKET,
                    time_in_force=TimeInForce.IOC,
                    price=0,
                    quantity=qty,
                )
            )
    return commands


def run_once(stream: np.ndarray, freeze_gc: bool, chunk_size: int) -> dict[str, object]:
    core = ExchangeCore()
    ts = 1
    for command in setup_commands(int(stream["sym"].max()) + 1):
        core.apply(command, ts)  # type: ignore[arg-type]
    commands = stream_commands(stream)
    if freeze_gc:
        gc.collect()
        gc.freeze()
    apply = core.apply
    clock = time.perf_counter
    elapsed = 0.0
    trades = volume = notional = cancels = rejected = 0
    for start in range(0, len(commands), chunk_size):
        chunk = commands[start : start + chunk_size]
        started = clock()
        results = [apply(command, ts) for command in chunk]  # type: ignore[arg-type]
        elapsed += clock() - started
        for events in results:  # counted outside the timed part, then dropped
            for event in events:
                if type(event) is Fill:
                    if event.aggressor:
                        trades += 1
                        volume += event.quantity
                        notional += event.quantity * event.price
                elif type(event) is OrderCanceled:
                    if event.reason == CancelReason.USER:
                        cancels += 1
                elif type(event) is OrderRejected:
                    rejected += 1
    if freeze_gc:
        gc.unfreeze()
    compiled = machine_module.__file__ is not None and not machine_module.__file__.endswith(".py")
    return {
        "state_hash": state_hash(core),
        "compiled": compiled,
        "commands": len(commands),
        "seconds": elapsed,
        "commands_per_s": len(commands) / elapsed,
        "trades": trades,
        "volume": volume,
        "notional": notional,
        "cancels_accepted": cancels,
        "rejected": rejected,
    }


def load_workload(path: Path | None) -> tuple[np.ndarray, dict[str, int] | None]:
    if path is None:
        path = ROOT / "bench" / "out" / "stream.npy"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, str(SHARED_BENCH / "workload.py"), "--out", str(path)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
    meta_path = path.with_suffix(".json")
    expected = json.loads(meta_path.read_text())["expected"] if meta_path.exists() else None
    return np.load(path), expected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path, help="a .npy stream from shared/bench/workload.py")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--chunk", type=int, default=DEFAULT_CHUNK, help="commands per timed chunk (a batch)"
    )
    parser.add_argument(
        "--gc", choices=["on", "freeze"], default="freeze", help="gc during the timed loop"
    )
    args = parser.parse_args()
    stream, expected = load_workload(args.workload)
    runs = []
    speeds: list[float] = []
    seconds: list[float] = []
    for i in range(args.runs):
        result = run_once(stream, args.gc == "freeze", args.chunk)
        runs.append(result)
        speeds.append(float(str(result["commands_per_s"])))
        seconds.append(float(str(result["seconds"])))
        print(f"run {i + 1}: {speeds[-1]:,.0f} commands/s", file=sys.stderr)
    summary: dict[str, object] = dict(runs[-1])
    summary["commands_per_s"] = round(statistics.median(speeds))
    summary["runs"] = [round(s) for s in speeds]
    summary["seconds"] = round(statistics.median(seconds), 3)
    summary["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    summary["gc"] = args.gc
    summary["chunk"] = args.chunk
    ok = True
    if expected is not None:
        for key in ("trades", "volume", "notional", "cancels_accepted"):
            if summary[key] != expected[key]:
                print(f"MISMATCH {key}: got {summary[key]}, expected {expected[key]}")
                ok = False
        summary["matches_expected"] = ok
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
