"""Each service run in this process from the one `ExchangeConfig`: the composition root's inside.

`build_*` turns the operator's settings into the config a part runs with
(paths resolved in the data directory, keys loaded, the calendar read);
`run_*` runs the service until its `Stop` (lifecycle.py). The `exchange`
subcommands call these and nothing else; the launcher (exchange.launch)
starts them as processes.
"""

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exchange.config import ExchangeConfig
from exchange.lifecycle import Stop

if TYPE_CHECKING:
    import socket

    from exchange.cluster.node import ClusterConfig
    from exchange.engine.server import EngineConfig
    from exchange.fix.server import FixConfig
    from exchange.gateway import GatewayConfig
    from exchange.marketdata.app import MarketDataConfig


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


def build_engine(config: ExchangeConfig) -> "EngineConfig":
    from exchange.calendar import TradingCalendar
    from exchange.engine.server import EngineConfig
    from exchange.journal import Durability

    settings = config.engine
    if settings.calendar == "default":
        calendar = TradingCalendar.default()
    elif settings.calendar == "always-open":
        calendar = TradingCalendar.always()
    else:
        calendar = TradingCalendar.from_file(settings.calendar)
    return EngineConfig(
        data_dir=config.root,
        endpoint=settings.endpoint,
        publish=settings.publish,
        durability=Durability(settings.durability),
        calendar=calendar,
        max_batch=settings.max_batch,
        snapshot_every=settings.snapshot_every,
        keys_dir=config.keys_dir,
        account_shards=settings.account_shards,
        journal_service=settings.journal_service,
    )


def build_cluster(config: ExchangeConfig) -> "ClusterConfig":
    from exchange.cluster.node import ClusterConfig

    settings = config.cluster
    if not settings.node:
        raise SystemExit("--cluster needs --node NAME (unique in the cluster)")
    if not settings.log_key:
        raise SystemExit("--cluster needs --log-key FILE (the same 32-byte key on every node)")

    def path(value: str) -> Path | None:
        return Path(value) if value else None

    return ClusterConfig(
        etcd=settings.etcd,
        node=settings.node,
        prefix=settings.prefix.encode(),
        lease_ttl=settings.lease_ttl,
        etcd_ca=path(settings.etcd_ca),
        etcd_cert=path(settings.etcd_cert),
        etcd_key=path(settings.etcd_key),
        etcd_server_name=settings.etcd_server_name or None,
        etcd_user=settings.etcd_user or None,
        etcd_password_file=path(settings.etcd_password_file),
        log_key=path(settings.log_key),
        window=settings.log_window,
        retain=settings.log_retain,
    )


def pepper_file(config: ExchangeConfig) -> Path:
    """The credential hashes' key: beside a SQLite accounts database, else in the data
    directory (the gateway and the FIX acceptor must read the same one)."""
    from exchange.accounts.store import PEPPER_FILE, default_pepper_file

    if config.accounts_url.startswith("sqlite"):
        return default_pepper_file(config.accounts_url)
    return config.root / PEPPER_FILE


def remote_journal(config: ExchangeConfig) -> str:
    """Where a feed's gaps are filled from: "" for the local journal directory, else the
    engine nodes' journal services (a consumer on a machine without the engine's data)."""
    return config.engine.journal_service if config.engine.remote_journal else ""


def build_gateway(config: ExchangeConfig) -> "GatewayConfig":
    from exchange.gateway import GatewayConfig, Limits
    from exchange.gateway.keys import load_or_create_key

    settings = config.gateway
    limits = Limits(
        per_ip_rate=settings.rate_per_ip,
        per_ip_burst=max(1, int(settings.rate_per_ip * 2)),
        per_client_rate=settings.rate_per_client,
        per_client_burst=max(1, int(settings.rate_per_client * 2)),
        orders_per_account_rate=settings.orders_per_account,
        orders_per_account_burst=max(1, int(settings.orders_per_account * 2)),
        applications_per_ip_rate=settings.applications_per_ip,
        applications_per_ip_burst=max(5, int(settings.applications_per_ip * 2)),
        tokens_per_ip_rate=settings.tokens_per_ip,
        tokens_per_ip_burst=max(20, int(settings.tokens_per_ip * 2)),
        max_body_bytes=settings.max_body_bytes,
        max_concurrent_requests=settings.max_requests,
    )
    return GatewayConfig(
        db_url=config.accounts_url,
        engine_endpoint=config.engine.endpoint,
        engine_publish=config.engine.publish,
        journal=config.journal_dir,
        signing_key=load_or_create_key(config.root / "gateway.key"),
        report_db_url=config.reports_url,
        pepper_file=pepper_file(config),
        keys_dir=config.keys_dir,
        admin_client_id=os.environ.get("EXCHANGE_ADMIN_CLIENT_ID"),
        admin_client_secret=os.environ.get("EXCHANGE_ADMIN_CLIENT_SECRET"),
        limits=limits,
        journal_service=remote_journal(config),
        account_shard=None if settings.account_shard < 0 else settings.account_shard,
        account_shards=config.engine.account_shards,
    )


def build_marketdata(config: ExchangeConfig) -> "MarketDataConfig":
    from exchange.marketdata.app import MarketDataConfig

    settings = config.marketdata
    return MarketDataConfig(
        publish=config.engine.publish,
        journal=config.journal_dir,
        rate_per_ip=settings.rate_per_ip,
        burst_per_ip=max(1, int(settings.rate_per_ip * 2)),
        connections_per_ip=settings.connections_per_ip,
        max_subscribers=settings.max_subscribers,
        blocklist=Path(settings.blocklist or config.root / "blocklist.txt"),
        allowlist=Path(settings.allowlist or config.root / "allowlist.txt"),
        keys_dir=config.keys_dir,
        journal_service=remote_journal(config),
    )


def build_fix(config: ExchangeConfig) -> "FixConfig":
    from exchange.fix.server import FixConfig

    settings = config.fix
    return FixConfig(
        engine_endpoint=config.engine.endpoint,
        engine_publish=config.engine.publish,
        journal=config.journal_dir,
        accounts_url=config.accounts_url,
        store_url=config.fix_sessions_url,
        pepper_file=pepper_file(config),
        keys_dir=config.keys_dir,
        host=settings.host,
        port=settings.port,
        logon_timeout=settings.logon_timeout,
        journal_service=remote_journal(config),
        account_shard=None if settings.account_shard < 0 else settings.account_shard,
        account_shards=config.engine.account_shards,
    )


def run_engine(config: ExchangeConfig) -> int:
    """The engine: sequencer, journal and core behind ZeroMQ (or one node of a cluster)."""
    from exchange.engine.server import run_engine

    _logging()
    stop = Stop.on_signals()
    if config.cluster.etcd:
        from exchange.cluster.node import run_node

        return run_node(build_engine(config), build_cluster(config), stop)
    return run_engine(build_engine(config), stop=stop)


def run_standby(config: ExchangeConfig) -> int:
    from exchange.engine.standby import run_standby

    _logging()
    stop = Stop.on_signals()
    return run_standby(build_engine(config), stop)


def _serve_http(
    app: object, host: str, port: int, *, sock: "socket.socket | None" = None, **options: object
) -> int:
    """uvicorn with what both HTTP services share: the guarded protocol, small frames, quiet logs
    (no access log: it would cost every request a call). uvicorn handles SIGTERM and SIGINT as
    `Stop` does: in-flight requests finish, then exit. `sock`: serve this bound socket (a
    worker's, web/workers.py); uvicorn makes it listen once the application has started.
    Returns the exit code: 0, or 3 when the application failed to start (as `uvicorn.run`)."""
    import uvicorn

    stop = Stop.on_signals()
    if not stop.running():
        return 0  # stopped while starting: nothing to serve
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ws_max_size=4096,
        http="exchange.web.connguard:GuardedHttpToolsProtocol",
        **options,  # type: ignore[arg-type]
    )
    server = uvicorn.Server(config)
    # A signal before uvicorn installs its handlers reaches `Stop`: it must still stop uvicorn.
    stop.when_stopped(lambda: setattr(server, "should_exit", True))
    server.run(sockets=[sock] if sock is not None else None)
    return 0 if server.started else 3


def run_gateway(config: ExchangeConfig) -> int:
    """The gateway: in this process, or in `workers` forked processes on one port sharing
    their rate limits (web/workers.py, gateway/resources.py `WorkerShared`)."""
    from exchange.gateway import create_app

    settings = config.gateway
    gateway_config = build_gateway(config)
    options: dict[str, Any] = {
        "proxy_headers": settings.trust_proxy,
        "limit_concurrency": settings.max_connections,
        "backlog": 2048,
    }
    workers = settings.workers or len(os.sched_getaffinity(0))  # the cores this process may use
    if workers == 1:
        return _serve_http(create_app(gateway_config), settings.host, settings.port, **options)
    from dataclasses import replace

    from exchange.gateway.resources import WorkerShared, ensure_admin
    from exchange.web.workers import run_workers

    _logging()
    ensure_admin(gateway_config)  # once, not raced by the workers
    shared = replace(
        gateway_config, shared=WorkerShared(), admin_client_id=None, admin_client_secret=None
    )

    def serve(sock: "socket.socket") -> int:
        return _serve_http(create_app(shared), settings.host, settings.port, sock=sock, **options)

    return run_workers(workers, settings.host, settings.port, serve, stop=Stop.on_signals())


def run_marketdata(config: ExchangeConfig) -> int:
    from exchange.marketdata.app import create_app

    settings = config.marketdata
    if settings.nice:
        os.nice(settings.nice)  # public traffic must never take CPU from the engine
    return _serve_http(
        create_app(build_marketdata(config)),
        settings.host,
        settings.port,
        proxy_headers=False,
        limit_concurrency=settings.max_subscribers + 5_000,
        backlog=4096,
    )


def run_fix(config: ExchangeConfig) -> int:
    from exchange.fix.server import serve

    _logging()
    stop = Stop.on_signals()
    serve(build_fix(config), stop.event)
    return 0


def run_reporter(config: ExchangeConfig, *, exit_when_idle: bool = False) -> int:
    from exchange.reporter.service import Reporter
    from exchange.reporter.store import ReportStore

    _logging()
    stop = Stop.on_signals()
    store = ReportStore(config.reports_url)
    reporter = Reporter(config.journal_dir, store, max_records=config.reporter.max_records)
    try:
        reporter.run(stop.running, exit_when_idle=exit_when_idle)
    finally:
        store.close()
    return 0


def migrate(config: ExchangeConfig) -> dict[str, str | None]:
    """Every database to the newest schema and the engine's keys made, before any service
    starts; revisions by database."""
    from exchange.engine.curve import KeyDirectory
    from exchange.migrations import migrate_all, private_directory

    private_directory(config.root)
    KeyDirectory(config.keys_dir).ensure()
    return migrate_all(
        accounts=config.accounts_url, fix=config.fix_sessions_url, reports=config.reports_url
    )
