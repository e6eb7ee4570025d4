"""`exchange marketdata`: the public market-data server (REST, WebSocket, the web page).

Everything here is read-only and public, and the whole world may hit it,
so every path is bounded: symbols must be listed, depths and limits come
from short allow-lists, unknown query parameters are refused, responses
are cached per (what, symbol, depth, the symbol's seq) so identical
requests in a window cost one computation, and a guard in front of every
route applies the IP block/allow lists, a per-IP token bucket and a cap on
connections per IP. It only reads the engine's feed and journal, so no
load here can slow trading down.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from exchange.engine.curve import keys_for
from exchange.engine.feed import open_feed
from exchange.heap import settle
from exchange.marketdata import render
from exchange.marketdata.access import AccessLists
from exchange.marketdata.books import MarketBooks, SymbolBook
from exchange.marketdata.cache import ResponseCache
from exchange.marketdata.guard import Guard
from exchange.marketdata.hub import CHANNELS, Hub, Subscriber
from exchange.web.clientkey import client_key
from exchange.web.concurrency import ConnectionLimiter
from exchange.web.connguard import ConnectionGuard, raise_open_files_limit
from exchange.web.errors import EXCEPTION_HANDLERS, ApiError
from exchange.web.params import is_number, query
from exchange.web.ratelimit import TokenBuckets, retry_after_header

STATIC = Path(__file__).parent / "static"
_json = msgspec.json.Encoder()


@dataclass
class MarketDataConfig:
    publish: str
    journal: Path
    rate_per_ip: float = 50.0
    burst_per_ip: int = 100
    connections_per_ip: int = 20
    max_subscribers: int = 20_000
    subscriber_queue: int = 1_000
    max_subscriptions: int = 300
    """Channel-symbol pairs one WebSocket may hold (3 channels x 100 symbols)."""
    cache_seconds: float = 1.0
    cache_max_bytes: int = 64 * 1024 * 1024
    """Response bodies kept in the cache at most, in bytes."""
    ws_ops_per_connection_rate: float = 100.0
    """WebSocket subscribe/unsubscribe work per connection, in symbols per second."""
    ws_ops_per_connection_burst: int = 300
    ws_ops_per_ip_rate: float = 300.0
    """The same per client address (IPv6: its /64), over all its connections."""
    ws_ops_per_ip_burst: int = 900
    tcp_connections_per_ip: int = 64
    """Open TCP connections per client address, enforced at accept (web/connguard.py)."""
    header_timeout: float = 5.0
    """Seconds from accept (or a request's first byte) to its complete headers."""
    blocklist: Path | None = None
    allowlist: Path | None = None
    keys_dir: Path | None = None
    """The engine's CURVE keys (default: `keys/` beside the journal); the feed key."""
    journal_service: str = ""
    """Engine nodes' journal services: fill feed gaps over the network ("": from `journal`)."""


class MarketData:
    """What every request shares."""

    def __init__(self, config: MarketDataConfig) -> None:
        self.config = config
        self.books = MarketBooks()
        self.cache = ResponseCache(config.cache_seconds, max_bytes=config.cache_max_bytes)
        self.ws_ops = TokenBuckets(config.ws_ops_per_ip_rate, config.ws_ops_per_ip_burst)
        """WebSocket op budget per client key, shared by an address's connections."""
        self.hub: Hub | None = None
        self.subscribers = 0

    @property
    def live(self) -> Hub:
        if self.hub is None:
            raise ApiError(503, "market data is starting", headers={"Retry-After": "1"})
        return self.hub

    def book(self, symbol: str) -> SymbolBook:
        book = self.books.books.get(symbol) if len(symbol) <= 16 else None
        if book is None:
            raise ApiError(404, "no such symbol")
        return book


def state(conn: HTTPConnection) -> MarketData:
    md: MarketData = conn.app.state.marketdata
    return md


def _choice(raw: str | None, name: str, allowed: tuple[int, ...], default: int) -> int:
    if raw is None:
        return default
    if not is_number(raw, 6) or int(raw) not in allowed:
        raise ApiError(422, f"{name} must be one of {', '.join(map(str, allowed))}")
    return int(raw)


def _cached(
    request: Request, key: tuple[Any, ...], version: int, build: Callable[[], Any]
) -> Response:
    """The body for `key` as of `version` (the symbol's seq): built once, replaced when it moves."""
    md = state(request)
    entry = md.cache.get(key, lambda: _json.encode(build()), version)
    headers = {"Cache-Control": "public, max-age=1", "ETag": entry.etag}
    if request.headers.get("if-none-match") == entry.etag:
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


# ------------------------------------------------------------------ routes


async def healthz(request: Request) -> Response:
    hub = state(request).hub
    if hub is None or not hub.healthy:
        return Response(
            b'{"status":"not following the engine"}', 503, media_type="application/json"
        )
    return Response(b'{"status":"ok"}', media_type="application/json")


async def readyz(request: Request) -> Response:
    """200 once the books have caught up with the journal and follow the live feed."""
    return await healthz(request)  # the hub starts serving only after its catch-up


async def summary(request: Request) -> Response:
    query(request, frozenset())
    md = state(request)
    books = md.books
    return _cached(
        request,
        ("summary",),
        books.next_seq,
        lambda: render.summary(list(books.books.values()), books.next_seq - 1),
    )


async def book_view(request: Request) -> Response:
    """/v1/marketdata/{symbol}/{view}: l1, l2, l3 or trades."""
    view = request.path_params["view"]
    book = state(request).book(request.path_params["symbol"])
    if view == "l1":
        query(request, frozenset())
        return _cached(request, ("l1", book.symbol), book.seq, lambda: render.l1(book))
    if view in ("l2", "l3"):
        depth = _depth(request)
        build = render.l2 if view == "l2" else render.l3
        return _cached(request, (view, book.symbol, depth), book.seq, lambda: build(book, depth))
    if view == "trades":
        params = query(request, frozenset({"limit"}))
        limit = _choice(params.get("limit"), "limit", render.TRADE_LIMITS, 50)
        return _cached(
            request, ("trades", book.symbol, limit), book.seq, lambda: render.trades(book, limit)
        )
    raise ApiError(404, "no such view: use l1, l2, l3 or trades")


def _depth(request: Request, extra: frozenset[str] = frozenset()) -> int:
    params = query(request, frozenset({"depth"}) | extra)
    return _choice(params.get("depth"), "depth", render.DEPTHS, render.DEFAULT_DEPTH)


async def order_book_l2(request: Request) -> Response:
    """The seed's form: GET /v1/marketdata/order-book/L2?symbol=&depth=."""
    params = query(request, frozenset({"symbol", "depth"}))
    symbol = params.get("symbol")
    if symbol is None:
        raise ApiError(422, "symbol is required")
    book = state(request).book(symbol)
    depth = _depth(request, frozenset({"symbol"}))
    return _cached(request, ("l2", book.symbol, depth), book.seq, lambda: render.l2(book, depth))


async def page(request: Request) -> Response:
    name = "symbol.html" if "symbol" in request.path_params else "index.html"
    if "symbol" in request.path_params:
        state(request).book(request.path_params["symbol"])
    return FileResponse(STATIC / name, headers={"Cache-Control": "public, max-age=60"})


# --------------------------------------------------------------- websocket


class Op(msgspec.Struct, forbid_unknown_fields=True):
    op: str
    channel: str
    symbols: list[str]


_op_decoder = msgspec.json.Decoder(Op)


async def stream(websocket: WebSocket) -> None:
    """Subscribe with {"op": "subscribe", "channel": "l1|l2|trades", "symbols": [...]}."""
    md = state(websocket)
    if websocket.query_params:
        await websocket.close(1008, "no query parameters")
        return
    if md.subscribers >= md.config.max_subscribers:
        await websocket.close(1013, "too many subscribers")
        return
    hub = md.live
    await websocket.accept()
    config = md.config
    client = websocket.client
    ip_key = client_key(client.host) if client is not None else "unknown"
    own_ops = TokenBuckets(
        config.ws_ops_per_connection_rate, config.ws_ops_per_connection_burst, max_keys=1
    )
    subscriber = hub.new_subscriber()
    md.subscribers += 1
    sender = asyncio.ensure_future(_send(websocket, subscriber))
    try:
        while True:
            text = await websocket.receive_text()
            error = _handle(md, hub, subscriber, text, lambda n: _throttle(md, own_ops, ip_key, n))
            if error:
                await websocket.send_text(
                    _json.encode({"type": "error", "message": error}).decode()
                )
            if subscriber.closed.is_set():
                break
    except WebSocketDisconnect:
        pass
    finally:
        hub.remove(subscriber)
        md.subscribers -= 1
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await sender


def _throttle(md: MarketData, own: TokenBuckets, ip_key: str, symbols: int) -> str | None:
    """Charge an op to its connection's and its address's budgets; an error if either is spent.

    Why: every subscribe renders (or at least queues) a snapshot per symbol,
    and the Guard only saw the upgrade. The cost is the number of symbols
    named (at least 1), so a client cycling subscribe/unsubscribe over 100
    symbols is held to the configured rate (security review M7).
    """
    cost = max(1, symbols)
    wait = own.take("", min(cost, own.burst)) or md.ws_ops.take(ip_key, min(cost, md.ws_ops.burst))
    if wait:
        return f"rate limited: retry in {retry_after_header(wait)} s"
    return None


def _handle(
    md: MarketData,
    hub: Hub,
    subscriber: Subscriber,
    text: str,
    charge: Callable[[int], str | None],
) -> str | None:
    """Apply one op; an error message for the client, or None. `charge(symbols)` may refuse it."""
    try:
        op = _op_decoder.decode(text)
    except msgspec.DecodeError as error:
        return charge(1) or f"bad message: {error}"[:200]
    refused = charge(len(op.symbols))
    if refused:
        return refused
    if op.op not in ("subscribe", "unsubscribe"):
        return "op must be subscribe or unsubscribe"
    if op.channel not in CHANNELS:
        return "channel must be l1, l2 or trades"
    unknown = [s for s in op.symbols if s not in md.books.books]
    if unknown or len(op.symbols) > len(md.books.books):
        return f"unknown symbols: {', '.join(unknown[:5])[:100]}"
    for symbol in op.symbols:
        if op.op == "unsubscribe":
            hub.unsubscribe(subscriber, op.channel, symbol)
            continue
        if (op.channel, symbol) in subscriber.keys:
            continue
        if len(subscriber.keys) >= md.config.max_subscriptions:
            return f"at most {md.config.max_subscriptions} subscriptions per connection"
        snapshot = hub.subscribe(subscriber, op.channel, symbol)
        try:
            subscriber.queue.put_nowait(snapshot)
        except asyncio.QueueFull:
            hub.remove(subscriber)
            subscriber.closed.set()
            return "too far behind"
    return None


async def _send(websocket: WebSocket, subscriber: Subscriber) -> None:
    queue = subscriber.queue
    while True:
        if queue.empty() and subscriber.closed.is_set():
            await websocket.close(1013, "too slow: subscribe again")
            return
        await websocket.send_text(await queue.get())


# -------------------------------------------------------------------- app


def create_app(config: MarketDataConfig) -> Starlette:
    md = MarketData(config)
    access = AccessLists(config.blocklist, config.allowlist)
    connections = ConnectionLimiter(config.connections_per_ip)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise_open_files_limit()
        keys = keys_for(config.journal, config.keys_dir)
        feed = open_feed(
            config.publish, config.journal, keys, journal_service=config.journal_service
        )
        hub = Hub(feed, md.books, queue_capacity=config.subscriber_queue)
        try:
            await hub.start()
            md.hub = hub
            settle()
            yield
        finally:
            md.hub = None
            await hub.close()

    routes = [
        Route("/", page),
        Route("/symbol/{symbol}", page),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/v1/marketdata/summary", summary),
        Route("/v1/marketdata/order-book/L2", order_book_l2),
        Route("/v1/marketdata/{symbol}/{view}", book_view),
        WebSocketRoute("/v1/marketdata/stream", stream),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            Middleware(
                Guard,
                access=access,
                connections=connections,
                rate=config.rate_per_ip,
                burst=config.burst_per_ip,
            )
        ],
        lifespan=lifespan,
    )
    app.state.marketdata = md
    app.state.connection_guard = ConnectionGuard(  # read by web/connguard.py's protocol
        config.tcp_connections_per_ip, config.header_timeout, exempt=access.exempt
    )
    return app
