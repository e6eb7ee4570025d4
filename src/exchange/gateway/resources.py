"""The gateway's configuration and the resources every request shares."""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from exchange.accounts import SanctionsList, TokenIssuer
from exchange.accounts.store import AccountStore
from exchange.core import RequestCommand
from exchange.engine.client import EngineClient, EngineUnavailableError
from exchange.engine.protocol import Reply
from exchange.engine.queries import AccountState
from exchange.gateway.follower import Follower
from exchange.gateway.highwater import HighWater, LocalHighWater, SharedHighWater
from exchange.gateway.history import History, HistoryUnavailableError
from exchange.gateway.metrics import GatewayMetrics
from exchange.views.order_view import ExchangeView
from exchange.web.concurrency import ConnectionLimiter
from exchange.web.connguard import ConnectionGuard
from exchange.web.errors import ApiError
from exchange.web.ratelimit import RateLimiter, TokenBuckets
from exchange.web.sharedbuckets import BucketTable, SharedTokenBuckets

ADMIN_SCOPES = frozenset({"admin", "compliance"})
REVOCATION_REFRESH = 0.5
"""Seconds between two reads of the revoked credentials."""
T = TypeVar("T")
log = logging.getLogger(__name__)
ENGINE_UNAVAILABLE = "the engine is unavailable"
HISTORY_UNAVAILABLE = "history is unavailable"
"""503 texts say what is missing, never where it lives or what failed inside (security review
L5): endpoints, hosts and database errors go to the log."""


@dataclass(frozen=True)
class Limits:
    """Rates in requests per second and bursts in requests; all configurable."""

    per_ip_rate: float = 200.0
    per_ip_burst: int = 400
    per_client_rate: float = 500.0
    per_client_burst: int = 1_000
    orders_per_account_rate: float = 200.0
    orders_per_account_burst: int = 400
    applications_per_ip_rate: float = 0.2
    applications_per_ip_burst: int = 5
    tokens_per_ip_rate: float = 5.0
    tokens_per_ip_burst: int = 20
    max_body_bytes: int = 16 * 1024
    max_concurrent_requests: int = 5_000
    """HTTP requests served at once; beyond it, 503 with Retry-After."""
    max_streams_per_account: int = 10
    stream_queue: int = 1_000
    max_requests_per_ip: int | None = None
    """HTTP requests one client address (IPv6: its /64) has in progress at once; beyond, 429.
    None: a tenth of `max_concurrent_requests`, so ten addresses are needed to saturate."""
    max_requests_per_client: int | None = None
    """The same per credential; None: a tenth of `max_concurrent_requests`."""
    connections_per_ip: int = 1_024
    """Open TCP connections per client address, enforced at accept (web/connguard.py)."""
    header_timeout: float = 5.0
    """Seconds from accept (or a request's first byte) to its complete headers."""
    body_timeout: float = 5.0
    """Seconds to receive a request body once its handler starts reading it; else 408."""


@dataclass(frozen=True)
class WorkerShared:
    """What the workers of one gateway share: the rate limits' buckets and the read-your-writes
    marks, in shared memory the parent makes before it forks (`exchange gateway --workers`)."""

    buckets: BucketTable = field(default_factory=BucketTable)
    high_water: SharedHighWater = field(default_factory=SharedHighWater)


@dataclass
class GatewayConfig:
    db_url: str
    engine_endpoint: str
    signing_key: bytes
    journal: Path
    """The engine's journal directory: the order view reads it at start and to fill gaps."""
    engine_publish: str = "tcp://127.0.0.1:5556"
    report_db_url: str | None = None
    """The reporter's database, for history (None: history answers 503)."""
    pepper_file: Path | None = None
    """The credential hashes' pepper (default: beside a SQLite accounts DB, else the data dir)."""
    admin_client_id: str | None = None
    admin_client_secret: str | None = None
    token_ttl_seconds: int = 900
    limits: Limits = field(default_factory=Limits)
    engine_timeout: float = 0.5
    engine_deadline: float = 10.0
    read_your_writes_timeout: float = 2.0
    keys_dir: Path | None = None
    """The engine's CURVE keys (default: `keys/` beside the journal); the gateway uses the
    trading key for trading and the admin key only on admin paths."""
    journal_service: str = ""
    """Engine nodes' journal services: fill feed gaps over the network ("": from `journal`)."""
    account_shard: int | None = None
    """Serve only the accounts with id % account_shards == account_shard, following only
    their part of the feed (None: every account, the whole feed)."""
    account_shards: int = 0
    shared: WorkerShared | None = None
    """Set in each worker of a gateway with several: its limits and marks are the workers'."""

    @property
    def max_body_bytes(self) -> int:
        return self.limits.max_body_bytes


def ensure_admin(config: GatewayConfig, store: AccountStore | None = None) -> None:
    """The configured first admin credential exists with the configured secret (if one is set)."""
    if not (config.admin_client_id and config.admin_client_secret):
        return
    own = store is None
    store = store or AccountStore(config.db_url, pepper_file=config.pepper_file)
    try:
        store.create_credential(
            ADMIN_SCOPES, client_id=config.admin_client_id, secret=config.admin_client_secret
        )
    finally:
        if own:
            store.engine.dispose()


class Gateway:
    """What every request shares: store, tokens, limits, engine client and the view."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        limits = config.limits
        self.store = AccountStore(config.db_url, pepper_file=config.pepper_file)
        self.issuer = TokenIssuer(config.signing_key, ttl_seconds=config.token_ttl_seconds)
        self.sanctions = SanctionsList.load()
        shared = config.shared
        table = shared.buckets.attach() if shared is not None else None

        def buckets(name: str, rate: float, burst: int) -> RateLimiter:
            if table is None:
                return TokenBuckets(rate, burst)
            return SharedTokenBuckets(table, name, rate, burst)

        self.per_ip = buckets("ip", limits.per_ip_rate, limits.per_ip_burst)
        self.per_client = buckets("client", limits.per_client_rate, limits.per_client_burst)
        self.per_account_orders = buckets(
            "account", limits.orders_per_account_rate, limits.orders_per_account_burst
        )
        self.applications = buckets(
            "applications", limits.applications_per_ip_rate, limits.applications_per_ip_burst
        )
        self.tokens = buckets("tokens", limits.tokens_per_ip_rate, limits.tokens_per_ip_burst)
        tenth = max(1, limits.max_concurrent_requests // 10)
        self.requests_per_ip = ConnectionLimiter(limits.max_requests_per_ip or tenth)
        self.requests_per_client = ConnectionLimiter(limits.max_requests_per_client or tenth)
        self.connection_guard = ConnectionGuard(limits.connections_per_ip, limits.header_timeout)
        self.metrics = GatewayMetrics()
        self.reports = History(config.report_db_url) if config.report_db_url else None
        self.client: EngineClient | None = None
        """The trading path's engine client (the `trading` key: orders, cancels, queries)."""
        self.admin_client: EngineClient | None = None
        """The admin paths' (the `admin` key: accounts, deposits, withdrawals, statuses)."""
        self.follower: Follower | None = None
        self.high_water: HighWater = shared.high_water if shared is not None else LocalHighWater()
        """Per account, the event seq after the last reply this gateway (any worker) got for it."""
        self.revoked: frozenset[str] = self.store.revoked_ids()
        """Revoked client ids: checked on every token, refreshed from the database each
        second (`watch_revocations`), so a revocation on any gateway reaches every one."""
        ensure_admin(config, self.store)

    @property
    def engine(self) -> EngineClient:
        if self.client is None:
            raise ApiError(503, "the engine client is not running", headers={"Retry-After": "1"})
        return self.client

    @property
    def admin_engine(self) -> EngineClient:
        if self.admin_client is None:
            raise ApiError(503, "the engine client is not running", headers={"Retry-After": "1"})
        return self.admin_client

    @property
    def follow(self) -> Follower:
        if self.follower is None:
            raise ApiError(503, "the order view is not running", headers={"Retry-After": "1"})
        return self.follower

    @property
    def view(self) -> ExchangeView:
        return self.follow.view

    def serving(self, account: int) -> int:
        """`account`, if this gateway serves it: a gateway of one account shard follows only
        that shard's orders, so it sends the others elsewhere (421 Misdirected Request)."""
        shard, shards = self.config.account_shard, self.config.account_shards
        if shard is not None and account % shards != shard:
            raise ApiError(
                421,
                f"account {account} is served by the gateways of account shard "
                f"{account % shards} of {shards}; this gateway serves shard {shard}",
                code="WRONG_GATEWAY",
            )
        return account

    async def submit(
        self, command: RequestCommand, account: int = 0, *, admin: bool = False
    ) -> Reply:
        """Send a command (`admin`: with the admin key, from an admin path only); 503 with
        Retry-After if the engine is saturated or away."""
        engine = self.engine if not admin else self.admin_engine
        started = time.perf_counter()
        try:
            reply = await engine.submit(command)
        except EngineUnavailableError as error:
            log.warning("%s: %s", ENGINE_UNAVAILABLE, error)
            raise ApiError(503, ENGINE_UNAVAILABLE, headers={"Retry-After": "1"}) from None
        finally:
            self.metrics.engine_resends.set(engine.resends)
        self.metrics.engine_latency.observe(time.perf_counter() - started)
        if reply.stages is not None:
            for histogram, ns in zip(self.metrics.engine_stages, reply.stages, strict=True):
                histogram.observe(ns / 1e9)
        if reply.error:
            raise ApiError(422, f"the engine refused the request: {reply.error}")
        if account:
            self.wrote(account, reply.first_event_seq + len(reply.events))
        return reply

    async def history(self, query: Callable[[History], T]) -> T:
        """Run a history query in the thread pool; 503 while the report database is missing."""
        reports = self.reports
        if reports is None:
            raise ApiError(503, "history is not configured", headers={"Retry-After": "60"})
        try:
            return await run_in_threadpool(query, reports)
        except HistoryUnavailableError as error:
            log.warning("%s: %s", HISTORY_UNAVAILABLE, error)
            raise ApiError(503, HISTORY_UNAVAILABLE, headers={"Retry-After": "5"}) from None

    async def account_state(self, account: int) -> AccountState | None:
        try:
            return await self.engine.account(account)
        except EngineUnavailableError as error:
            log.warning("%s: %s", ENGINE_UNAVAILABLE, error)
            raise ApiError(503, ENGINE_UNAVAILABLE, headers={"Retry-After": "1"}) from None

    def wrote(self, account: int, next_event_seq: int) -> None:
        self.high_water.raise_to(account, next_event_seq)

    async def caught_up(self, account: int) -> None:
        """Wait until the view shows everything this gateway has acknowledged for `account`."""
        target = self.high_water.get(account)
        if target and not await self.follow.wait_for(
            target - 1, self.config.read_your_writes_timeout
        ):
            raise ApiError(503, "the order view is behind the engine", headers={"Retry-After": "1"})

    async def watch_revocations(self, every: float = REVOCATION_REFRESH) -> None:
        """Keep `revoked` current with the accounts database (shared by every gateway)."""
        while True:
            await asyncio.sleep(every)
            try:
                self.revoked = await run_in_threadpool(self.store.revoked_ids)
            except Exception:  # the database is away: keep the last set, try again
                log.exception("could not refresh the revoked credentials")
