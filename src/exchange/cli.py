"""The `exchange` command: one entry point, a subcommand per part."""

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.engine.server import EngineConfig

DEFAULT_DATA_DIR = "./var"


def _data_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("EXCHANGE_DATA_DIR", DEFAULT_DATA_DIR))


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


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring every database (accounts, FIX sessions, reports) to the newest schema; run it first."""
    from exchange.migrations import data_dir_urls, migrate_all, private_directory

    root = _data_dir(args.data_dir)
    private_directory(root)
    defaults = data_dir_urls(root)
    revisions = migrate_all(
        accounts=_accounts_db(args, root),
        fix=args.fix_db_url or defaults["fix"],
        reports=args.report_db_url or os.environ.get("EXCHANGE_REPORT_DB") or defaults["reports"],
    )
    for name, revision in revisions.items():
        print(f"{name}: at revision {revision}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Start the exchange on embedded defaults with demo accounts and demo traffic."""
    from exchange.demo import run_demo

    return run_demo(
        _data_dir(args.data_dir),
        orders=args.orders,
        seed=args.seed,
        wait=not args.no_wait,
        endpoint=args.endpoint,
        publish=args.publish,
        port=args.port,
        marketdata_port=args.marketdata_port,
        fix_port=args.fix_port,
    )


def _journal_dir(args: argparse.Namespace, root: Path) -> Path:
    """The engine's journal: --journal, else <data dir>/journal."""
    return Path(args.journal) if args.journal else root / "journal"


def _until_signalled() -> Callable[[], bool]:
    """True until SIGTERM or SIGINT arrives (for loops that stop cleanly between steps)."""
    import signal

    stopped = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return lambda: not stopped


def _engine_config(args: argparse.Namespace) -> "EngineConfig":
    from exchange.calendar import TradingCalendar
    from exchange.engine.server import EngineConfig
    from exchange.journal import Durability

    if args.calendar == "default":
        calendar = TradingCalendar.default()
    elif args.calendar == "always-open":
        calendar = TradingCalendar.always()
    else:
        calendar = TradingCalendar.from_file(args.calendar)
    config = EngineConfig(
        data_dir=_data_dir(args.data_dir),
        endpoint=args.endpoint,
        publish=args.publish,
        durability=Durability(args.durability),
        calendar=calendar,
        max_batch=args.max_batch,
        snapshot_every=args.snapshot_every,
    )
    return config


def cmd_engine(args: argparse.Namespace) -> int:
    """Run the engine: sequencer, journal and core behind ZeroMQ (holding the primary role)."""
    import logging

    from exchange.engine.server import run_engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.cluster:
        from exchange.cluster.node import ClusterConfig, run_node

        if not args.node:
            raise SystemExit("--cluster needs --node NAME (unique in the cluster)")
        cluster = ClusterConfig(
            etcd=args.cluster,
            node=args.node,
            prefix=args.prefix.encode(),
            lease_ttl=args.lease_ttl,
            etcd_ca=args.etcd_ca,
            etcd_cert=args.etcd_cert,
            etcd_key=args.etcd_key,
            etcd_server_name=args.etcd_server_name,
            etcd_user=args.etcd_user,
            etcd_password_file=args.etcd_password_file,
            log_key=args.log_key,
        )
        return run_node(_engine_config(args), cluster)
    return run_engine(_engine_config(args))


def cmd_standby(args: argparse.Namespace) -> int:
    """Follow the primary's journal in lockstep; take over when the primary dies."""
    import logging

    from exchange.engine.standby import run_standby

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    running = _until_signalled()
    return run_standby(_engine_config(args), running)


def cmd_gateway(args: argparse.Namespace) -> int:
    """Run the client gateway: REST + WebSocket for brokers, accounts, KYC and tokens."""
    import uvicorn

    from exchange.gateway import GatewayConfig, Limits, create_app
    from exchange.gateway.keys import load_or_create_key

    root = _data_dir(args.data_dir)
    limits = Limits(
        per_ip_rate=args.rate_per_ip,
        per_ip_burst=max(1, int(args.rate_per_ip * 2)),
        per_client_rate=args.rate_per_client,
        per_client_burst=max(1, int(args.rate_per_client * 2)),
        orders_per_account_rate=args.orders_per_account,
        orders_per_account_burst=max(1, int(args.orders_per_account * 2)),
        applications_per_ip_rate=args.applications_per_ip,
        applications_per_ip_burst=max(5, int(args.applications_per_ip * 2)),
        tokens_per_ip_rate=args.tokens_per_ip,
        tokens_per_ip_burst=max(20, int(args.tokens_per_ip * 2)),
        max_body_bytes=args.max_body_bytes,
        max_concurrent_requests=args.max_requests,
    )
    config = GatewayConfig(
        db_url=_accounts_db(args, root),
        engine_endpoint=args.engine,
        engine_publish=args.publish,
        journal=_journal_dir(args, root),
        signing_key=load_or_create_key(root / "gateway.key"),
        report_db_url=_report_db(args, root, args.report_db_url),
        admin_client_id=os.environ.get("EXCHANGE_ADMIN_CLIENT_ID"),
        admin_client_secret=os.environ.get("EXCHANGE_ADMIN_CLIENT_SECRET"),
        limits=limits,
    )
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level="warning",
        ws_max_size=4096,
        proxy_headers=args.trust_proxy,
        http="exchange.web.connguard:GuardedHttpToolsProtocol",
        limit_concurrency=args.max_connections,
        backlog=2048,
    )
    return 0


def cmd_marketdata(args: argparse.Namespace) -> int:
    """Run the public market-data server: REST, WebSocket and the web page."""
    import uvicorn

    from exchange.marketdata.app import MarketDataConfig, create_app

    if args.nice:
        os.nice(args.nice)  # public traffic must never take CPU from the engine
    root = _data_dir(args.data_dir)
    config = MarketDataConfig(
        publish=args.publish,
        journal=_journal_dir(args, root),
        rate_per_ip=args.rate_per_ip,
        burst_per_ip=max(1, int(args.rate_per_ip * 2)),
        connections_per_ip=args.connections_per_ip,
        max_subscribers=args.max_subscribers,
        blocklist=Path(args.blocklist) if args.blocklist else root / "blocklist.txt",
        allowlist=Path(args.allowlist) if args.allowlist else root / "allowlist.txt",
    )
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level="warning",
        ws_max_size=4096,
        proxy_headers=False,
        http="exchange.web.connguard:GuardedHttpToolsProtocol",
        limit_concurrency=args.max_subscribers + 5_000,
        backlog=4096,
    )
    return 0


def _accounts_db(args: argparse.Namespace, root: Path) -> str:
    """--db-url, else $EXCHANGE_DB_URL (a password stays out of the command line, L4), else
    SQLite in the data dir."""
    return str(
        args.db_url or os.environ.get("EXCHANGE_DB_URL") or f"sqlite:///{root / 'accounts.db'}"
    )


def _report_db(args: argparse.Namespace, root: Path, given: str | None = None) -> str:
    """The report database: the option, else $EXCHANGE_REPORT_DB, else SQLite in the data dir."""
    url = given if given is not None else getattr(args, "db_url", None)
    return str(url or os.environ.get("EXCHANGE_REPORT_DB") or f"sqlite:///{root / 'reports.db'}")


def cmd_reporter(args: argparse.Namespace) -> int:
    """Follow the journal into SQL: orders, executions, movements, statements (exactly once)."""
    import logging

    from exchange.reporter.service import Reporter
    from exchange.reporter.store import ReportStore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    root = _data_dir(args.data_dir)
    journal = _journal_dir(args, root)
    store = ReportStore(_report_db(args, root))
    reporter = Reporter(journal, store, max_records=args.max_records)
    running = _until_signalled()
    try:
        reporter.run(running, exit_when_idle=args.exit_when_idle)
    finally:
        store.close()
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Compare the report database with a replay of the journal; non-zero on any difference."""
    from exchange.reporter.reconcile import reconcile

    root = _data_dir(args.data_dir)
    differences = reconcile(root, _report_db(args, root))
    for line in differences:
        print(line)
    if not differences:
        print("reconciled: the database matches the journal")
    return 1 if differences else 0


def cmd_fix(args: argparse.Namespace) -> int:
    """Run the FIX 4.4 acceptor for institutions (SenderCompID = clientId, 554 = clientSecret)."""
    import asyncio
    import logging
    import signal

    from exchange.fix.server import FixConfig, FixGateway

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    root = _data_dir(args.data_dir)
    config = FixConfig(
        engine_endpoint=args.engine,
        engine_publish=args.publish,
        journal=_journal_dir(args, root),
        accounts_url=_accounts_db(args, root),
        store_url=f"sqlite:///{root / 'fix-sessions.db'}",
        host=args.host,
        port=args.port,
        logon_timeout=args.logon_timeout,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await FixGateway(config).serve(stop)

    asyncio.run(main())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Load generator: N users trading the 100 symbols open loop over REST or FIX; one JSON line."""
    from exchange.loadgen.runner import BenchConfig, run

    fields = vars(args).copy()
    for name in ("command", "func"):
        fields.pop(name, None)
    fields["out"] = Path(fields["out"])
    fields["data_dir"] = Path(fields["data_dir"]) if fields["data_dir"] else None
    return run(BenchConfig(**fields))


def _bench_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    bench = sub.add_parser("bench", help=cmd_bench.__doc__)
    add = bench.add_argument
    add("--users", type=int, default=100, help="simulated users, 1 to 10,000 (each its own "
        "credential and WebSocket)")  # fmt: skip
    add("--rate", type=float, default=500.0, help="orders + cancels per second (open loop)")
    add("--seconds", type=float, default=10.0, help="how long the load runs")
    add("--protocol", choices=["rest", "fix"], default="rest")
    add("--gateway", default="http://127.0.0.1:8080", help="a running gateway (REST, streams)")
    add("--fix", default="127.0.0.1:9878", help="a running FIX acceptor, HOST:PORT")
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

    engine = sub.add_parser("engine", help=cmd_engine.__doc__)
    engine.add_argument("--data-dir", help="default $EXCHANGE_DATA_DIR or ./var")
    engine.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="requests (ROUTER)")
    engine.add_argument("--publish", default="tcp://127.0.0.1:5556", help="batches (PUB)")
    engine.add_argument("--durability", choices=["write", "fsync"], default="write")
    engine.add_argument(
        "--calendar",
        default="default",
        help="default (Sat-Thu 09:00-12:30 Asia/Tehran), always-open, or a JSON file",
    )
    engine.add_argument("--max-batch", type=int, default=1_000)
    engine.add_argument("--snapshot-every", type=int, default=1_000_000, help="commands")
    engine.set_defaults(func=cmd_engine)

    standby = sub.add_parser("standby", help=cmd_standby.__doc__, parents=[engine], add_help=False)
    standby.set_defaults(func=cmd_standby)
    engine.add_argument(
        "--cluster",
        metavar="ETCD_URLS",
        help="run as one node of a cluster coordinated by these etcd members (comma-separated)",
    )
    engine.add_argument("--node", help="this node's name in the cluster")
    engine.add_argument("--prefix", default="/exchange/", help="the cluster's etcd key prefix")
    engine.add_argument("--lease-ttl", type=int, default=1, help="leader lease, seconds")
    # etcd TLS and login, and the log's signing key (review C2; README "Security")
    engine.add_argument("--etcd-ca", type=Path, help="CA of the etcd members' certificates")
    engine.add_argument("--etcd-cert", type=Path, help="this node's etcd client certificate")
    engine.add_argument("--etcd-key", type=Path, help="its private key (mode 0600)")
    engine.add_argument("--etcd-server-name", help="name in every member's certificate")
    engine.add_argument("--etcd-user", help="etcd user (RBAC: read-write under --prefix only)")
    engine.add_argument(
        "--etcd-password-file", type=Path, help="its password, mode 0600 ($EXCHANGE_ETCD_PASSWORD)"
    )
    engine.add_argument(
        "--log-key", type=Path, help="32-byte log signing key, mode 0600, the same on every node"
    )

    gateway = sub.add_parser("gateway", help=cmd_gateway.__doc__)
    gateway.add_argument("--data-dir", help="default $EXCHANGE_DATA_DIR or ./var")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8080)
    gateway.add_argument("--engine", default="tcp://127.0.0.1:5555", help="engine requests")
    gateway.add_argument(
        "--db-url", help="SQLAlchemy URL (default $EXCHANGE_DB_URL or SQLite in the data dir)"
    )
    gateway.add_argument("--publish", default="tcp://127.0.0.1:5556", help="engine batch feed")
    gateway.add_argument(
        "--report-db-url", help="the reporter's database, for history (default as the reporter's)"
    )
    gateway.add_argument("--journal", help="the engine's journal dir (default: <data dir>/journal)")
    gateway.add_argument("--rate-per-ip", type=float, default=200.0, help="requests/s per IP")
    gateway.add_argument(
        "--rate-per-client", type=float, default=500.0, help="requests/s per credential"
    )
    gateway.add_argument(
        "--orders-per-account", type=float, default=200.0, help="orders+cancels/s per account"
    )
    gateway.add_argument(
        "--applications-per-ip", type=float, default=0.2, help="account applications/s per IP"
    )
    gateway.add_argument("--tokens-per-ip", type=float, default=5.0, help="token requests/s per IP")
    gateway.add_argument("--max-body-bytes", type=int, default=16 * 1024)
    gateway.add_argument(
        "--trust-proxy",
        action="store_true",
        help="take the client IP from X-Forwarded-For sent by a local proxy (off: spoofable)",
    )
    gateway.add_argument(
        "--max-requests", type=int, default=5_000, help="served at once; beyond, 503"
    )
    gateway.add_argument(
        "--max-connections", type=int, default=20_000, help="open connections (uvicorn)"
    )
    gateway.set_defaults(func=cmd_gateway)

    md = sub.add_parser("marketdata", help=cmd_marketdata.__doc__)
    md.add_argument("--data-dir", help="default $EXCHANGE_DATA_DIR or ./var")
    md.add_argument("--host", default="127.0.0.1")
    md.add_argument("--port", type=int, default=8081)
    md.add_argument("--publish", default="tcp://127.0.0.1:5556", help="engine batch feed")
    md.add_argument("--journal", help="the engine's journal dir (default: <data dir>/journal)")
    md.add_argument("--rate-per-ip", type=float, default=50.0, help="requests/s per IP")
    md.add_argument("--connections-per-ip", type=int, default=20, help="open at once per IP")
    md.add_argument("--max-subscribers", type=int, default=20_000, help="WebSocket clients")
    md.add_argument(
        "--nice", type=int, default=10, help="CPU priority below the engine's (0: unchanged)"
    )
    md.add_argument(
        "--blocklist", help="addresses/networks refused (default <data dir>/blocklist.txt)"
    )
    md.add_argument(
        "--allowlist", help="addresses/networks exempt (default <data dir>/allowlist.txt)"
    )
    md.set_defaults(func=cmd_marketdata)

    fix = sub.add_parser("fix", help=cmd_fix.__doc__)
    fix.add_argument("--data-dir", help="default $EXCHANGE_DATA_DIR or ./var")
    fix.add_argument("--host", default="127.0.0.1")
    fix.add_argument("--port", type=int, default=9878)
    fix.add_argument("--engine", default="tcp://127.0.0.1:5555", help="engine requests")
    fix.add_argument("--publish", default="tcp://127.0.0.1:5556", help="engine batch feed")
    fix.add_argument("--journal", help="the engine's journal dir (default: <data dir>/journal)")
    fix.add_argument(
        "--db-url",
        help="the accounts database (default $EXCHANGE_DB_URL or <data dir>/accounts.db)",
    )
    fix.add_argument(
        "--logon-timeout", type=float, default=10.0, help="seconds a connection may wait to log on"
    )
    fix.set_defaults(func=cmd_fix)

    reporter = sub.add_parser("reporter", help=cmd_reporter.__doc__)
    reporter.add_argument("--data-dir", help="default $EXCHANGE_DATA_DIR or ./var")
    reporter.add_argument(
        "--journal", help="the engine's journal dir (default: <data dir>/journal)"
    )
    reporter.add_argument(
        "--db-url", help="SQLAlchemy URL (default $EXCHANGE_REPORT_DB or <data dir>/reports.db)"
    )
    reporter.add_argument("--max-records", type=int, default=2_000, help="records per transaction")
    reporter.add_argument("--exit-when-idle", action="store_true", help="stop once caught up")
    reporter.set_defaults(func=cmd_reporter)

    migrate = sub.add_parser("migrate", help=cmd_migrate.__doc__)
    migrate.add_argument("--data-dir", help="default $EXCHANGE_DATA_DIR or ./var")
    migrate.add_argument(
        "--db-url",
        help="the accounts database (default $EXCHANGE_DB_URL or <data dir>/accounts.db)",
    )
    migrate.add_argument(
        "--fix-db-url", help="the FIX session store (default <data dir>/fix-sessions.db)"
    )
    migrate.add_argument(
        "--report-db-url",
        help="the reporter's database (default $EXCHANGE_REPORT_DB or <data dir>/reports.db)",
    )
    migrate.set_defaults(func=cmd_migrate)

    reconcile = sub.add_parser("reconcile", help=cmd_reconcile.__doc__)
    reconcile.add_argument("--data-dir", help="default $EXCHANGE_DATA_DIR or ./var")
    reconcile.add_argument("--db-url", help="the report database (default as the reporter's)")
    reconcile.set_defaults(func=cmd_reconcile)

    run = sub.add_parser("run", help=cmd_run.__doc__)
    run.add_argument("--data-dir", help="default $EXCHANGE_DATA_DIR or ./var")
    run.add_argument("--orders", type=int, default=1_000, help="demo orders to place")
    run.add_argument("--port", type=int, default=8080, help="the gateway's HTTP port")
    run.add_argument("--marketdata-port", type=int, default=8081, help="the public page's port")
    run.add_argument("--fix-port", type=int, default=9878, help="the FIX acceptor's port")
    run.add_argument("--no-wait", action="store_true", help="stop after the demo orders")
    run.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="engine requests")
    run.add_argument("--publish", default="tcp://127.0.0.1:5556", help="engine batches")
    run.add_argument("--seed", type=int, default=1)
    run.set_defaults(func=cmd_run)
    _bench_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Every file an exchange process makes (databases, journal, keys, logs) is its owner's
    # only, children included (review M4): KYC data, hashes and the order flow live there.
    os.umask(0o077)
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
