"""The `exchange` command: one entry point, a subcommand per part."""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from exchange.lifecycle import Stop

if TYPE_CHECKING:
    from exchange.config import ExchangeConfig


def _data_dir(value: str | None) -> Path:
    """The given directory, else the configured one ($EXCHANGE_DATA_DIR or ./var)."""
    from exchange.config import load

    return Path(value) if value else load().root


def cmd_replay(args: argparse.Namespace) -> int:
    """Rebuild the state from snapshot + journal and print counts and the state hash."""
    from exchange.core import state_hash
    from exchange.engine import rebuild
    from exchange.journal import JournalCorruptError

    root = _data_dir(args.data_dir)
    if not (root / "journal").is_dir():
        print(f"exchange replay: no journal in {root}", file=sys.stderr)
        return 2
    try:
        state = rebuild(root, use_snapshot=not args.from_start, verify=args.verify)
    except JournalCorruptError as error:
        print(f"exchange replay: journal corrupt: {error}", file=sys.stderr)
        return 3
    core = state.core
    report: dict[str, object] = {
        "data_dir": str(root),
        "snapshot_seq": state.snapshot_seq,
        "batches_replayed": state.batches,
        "commands_replayed": state.commands,
        "last_seq": state.last_seq,
        "next_event_seq": state.next_event_seq,
        "trading_day": core.trading_day,
        "session_open": core.session_open,
        "instruments": len(core.instruments),
        "accounts": len(core.accounts),
        "orders": len(core.orders),
        "live_orders": sum(1 for o in core.orders.values() if o.is_live),
        "trades": core.next_trade_id - 1,
        "state_hash": state_hash(core),
    }
    if args.verify:
        report["verified"] = not state.mismatched_batches
        report["mismatched_batches"] = state.mismatched_batches[:20]
    print(json.dumps(report, indent=2))
    return 1 if state.mismatched_batches else 0


def _config(args: argparse.Namespace) -> "ExchangeConfig":
    """This command's config: --config, the environment, then its options (exchange.config)."""
    from exchange.config import ConfigError, compose

    try:
        return compose(args)
    except ConfigError as error:
        raise SystemExit(f"exchange {args.command}: {error}") from None


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring every database (accounts, FIX sessions, reports) to the newest schema; run it first."""
    from exchange.services import migrate

    for name, revision in migrate(_config(args)).items():
        print(f"{name}: at revision {revision}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Start the exchange on embedded defaults with demo accounts and demo traffic."""
    from exchange.demo import run_demo

    return run_demo(_config(args), orders=args.orders, seed=args.seed, wait=not args.no_wait)


def cmd_engine(args: argparse.Namespace) -> int:
    """Run the engine: sequencer, journal and core behind ZeroMQ (holding the primary role)."""
    from exchange.services import run_engine

    return run_engine(_config(args))


def cmd_standby(args: argparse.Namespace) -> int:
    """Follow the primary's journal in lockstep; take over when the primary dies."""
    from exchange.services import run_standby

    return run_standby(_config(args))


def cmd_gateway(args: argparse.Namespace) -> int:
    """Run the client gateway: REST + WebSocket for brokers, accounts, KYC and tokens."""
    from exchange.services import run_gateway

    return run_gateway(_config(args))


def cmd_marketdata(args: argparse.Namespace) -> int:
    """Run the public market-data server: REST, WebSocket and the web page."""
    from exchange.services import run_marketdata

    return run_marketdata(_config(args))


def cmd_reporter(args: argparse.Namespace) -> int:
    """Follow the journal into SQL: orders, executions, movements, statements (exactly once)."""
    from exchange.services import run_reporter

    return run_reporter(_config(args), exit_when_idle=args.exit_when_idle)


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Compare the report database with a replay of the journal; non-zero on any difference."""
    from exchange.reporter.reconcile import reconcile

    config = _config(args)
    differences = reconcile(config.root, config.reports_url)
    for line in differences:
        print(line)
    if not differences:
        print("reconciled: the database matches the journal")
    return 1 if differences else 0


def cmd_fix(args: argparse.Namespace) -> int:
    """Run the FIX 4.4 acceptor for institutions (SenderCompID = clientId, 554 = clientSecret)."""
    from exchange.services import run_fix

    return run_fix(_config(args))


def cmd_bench(args: argparse.Namespace) -> int:
    """Load generator: N users trading the 100 symbols open loop over REST, FIX or straight to the
    engine, from one or several processes; one JSON line."""
    from exchange.loadgen.bench_config import BenchConfig
    from exchange.loadgen.runner import run

    fields = vars(args).copy()
    for name in ("command", "func"):
        fields.pop(name, None)
    fields["out"] = Path(fields["out"])
    fields["data_dir"] = Path(fields["data_dir"]) if fields["data_dir"] else None
    return run(BenchConfig(**fields))


RATE_HELP = (
    "orders + cancels per second (open loop); 0 with --protocol engine: as fast as the engine "
    "takes them (closed loop, --window)"
)
PROTOCOL_HELP = "engine: straight to the engine's batched wire (needs --spawn)"
PROCESSES_HELP = (
    "generator processes, each driving 1/N of the users and of the rate, started together; "
    "their histograms merged"
)
DURABILITY_HELP = "with --spawn: the engine acknowledges once written, or once on disk"
ENGINE_PYTHON_HELP = (
    "with --spawn: the engine's interpreter; auto: the compiled build (.venv-compiled beside "
    "the checkout or the running venv) if there is one, else this one"
)
WINDOW_HELP = "--protocol engine --rate 0: requests in flight per process"
SNAPSHOT_HELP = (
    "--protocol engine: commands between the engine's snapshots (default: about halfway "
    "through the run; the newest is checked against the replay)"
)


def _bench_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from exchange.config import ExchangeConfig

    defaults = ExchangeConfig()  # where `exchange run` serves, by default
    bench = sub.add_parser("bench", help=cmd_bench.__doc__)
    add = bench.add_argument
    add("--users", type=int, default=100, help="simulated users, 1 to 10,000 (each its own "
        "credential and WebSocket)")  # fmt: skip
    add("--rate", type=float, default=500.0, help=RATE_HELP)
    add("--seconds", type=float, default=10.0, help="how long the load runs")
    add("--protocol", choices=["rest", "fix", "engine"], default="rest", help=PROTOCOL_HELP)
    add("--processes", type=int, default=1, help=PROCESSES_HELP)
    add("--durability", choices=["write", "fsync"], default="write", help=DURABILITY_HELP)
    add("--engine-python", default="auto", help=ENGINE_PYTHON_HELP)
    add("--window", type=int, default=2_000, help=WINDOW_HELP)
    add("--snapshot-every", type=int, help=SNAPSHOT_HELP)
    add("--gateway", default=f"http://127.0.0.1:{defaults.gateway.port}",
        help="a running gateway (REST, streams)")  # fmt: skip
    add("--fix", default=f"127.0.0.1:{defaults.fix.port}",
        help="a running FIX acceptor, HOST:PORT")  # fmt: skip
    add("--spawn", action="store_true", help="start an engine, gateway (and FIX) of its own")
    add("--data-dir", help="with --spawn: keep the exchange here (reused); else where the "
        "demo's credentials are")  # fmt: skip
    add("--seed", type=int, default=1, help="the plan's seed")
    add("--out", default="bench/out", help="where the JSON and the PNG go")
    add("--market-share", type=float, default=0.15, help="share of market orders")
    add("--cancel-share", type=float, default=0.20, help="share of cancels")
    add("--marketable-share", type=float, default=0.10, help="share of marketable limits")
    add("--arrivals", choices=["poisson", "uniform"], default="poisson")
    add("--makers", type=int, default=2, help="accounts resting liquidity on every symbol")
    add("--connections", type=int, default=256, help="REST connections at most")
    add("--timeout", type=float, default=10.0, help="seconds before a request counts as lost")
    add("--provision", choices=["auto", "api", "direct"], default="auto",
        help="how users are opened: api (application, approval, deposits), direct (--spawn "
             "only: into its databases, cheap hashes); auto: direct with --spawn")  # fmt: skip
    add("--no-streams", dest="streams", action="store_false", help="no WebSocket per user")
    add("--no-cache", dest="cache", action="store_false", help="do not reuse cached users")
    add("--admin-id", help="admin client id (default $EXCHANGE_ADMIN_CLIENT_ID or the demo's)")
    add("--admin-secret", help="admin client secret")
    add("--gateway-pid", type=int, help="the gateway's pid, for its memory (spawned: known)")
    add("--no-progress", dest="progress", action="store_false", help="no progress bar")
    add("--name", default="loadgen", help="file name stem in --out")
    bench.set_defaults(func=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    from exchange.config import add_options

    parser = argparse.ArgumentParser(prog="exchange", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    replay = sub.add_parser("replay", help=cmd_replay.__doc__)
    replay.add_argument(
        "data_dir", nargs="?", help="data directory (default $EXCHANGE_DATA_DIR or ./var)"
    )
    replay.add_argument("--from-start", action="store_true", help="ignore snapshots")
    replay.add_argument(
        "--verify", action="store_true", help="regenerate every batch's events and compare"
    )
    replay.set_defaults(func=cmd_replay)

    services = {
        "engine": cmd_engine, "standby": cmd_standby, "gateway": cmd_gateway,
        "marketdata": cmd_marketdata, "fix": cmd_fix, "reporter": cmd_reporter,
        "migrate": cmd_migrate, "reconcile": cmd_reconcile, "run": cmd_run,
    }  # fmt: skip
    for name, command in services.items():
        parser_of = sub.add_parser(name, help=command.__doc__)
        add_options(parser_of, name)
        parser_of.set_defaults(func=command)
        if name == "reporter":
            parser_of.add_argument(
                "--exit-when-idle", action="store_true", help="stop once caught up"
            )
        if name == "run":
            parser_of.add_argument("--orders", type=int, default=1_000, help="demo orders")
            parser_of.add_argument(
                "--no-wait", action="store_true", help="stop after the demo orders"
            )
            parser_of.add_argument(
                "--seed", type=int, default=1, help="the demo orders' seed (the same orders)"
            )
    _bench_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Every file an exchange process makes (databases, journal, keys, logs) is its owner's
    # only, children included (review M4): KYC data, hashes and the order flow live there.
    os.umask(0o077)
    Stop.on_signals()  # before the imports of a service: a stop while starting is kept
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
