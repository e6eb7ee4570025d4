"""Connection-level limits for uvicorn: a header deadline and a per-address cap at accept.

Why: uvicorn arms no timer on a new connection (its keep-alive timer starts
only after a response), and everything in the ASGI app runs only once a
request's headers are complete. A client that opens thousands of sockets
and sends headers a byte at a time (slowloris) would hold them forever,
before any middleware could see it, until `limit_concurrency` or the file
descriptor limit is reached and everyone else is refused.

`GuardedHttpToolsProtocol` is uvicorn's httptools protocol with two
additions, selected with `uvicorn.run(..., http=PROTOCOL)`:

- at accept (`connection_made`) it counts the connection against its
  client key (`client_key`: IPv6 per /64) and closes it at once beyond
  `per_ip` open connections; a trusted proxy (uvicorn's `proxy_headers`
  with the peer in FORWARDED_ALLOW_IPS) is not capped here, the proxy caps
  its own clients and the ASGI limits see the forwarded address;
- from accept, and again from the first byte of each later request on a
  keep-alive connection, the request line and headers must be complete
  within `header_timeout` seconds, else the connection is closed.

The limits live in a `ConnectionGuard` the application creates (its
`app.state.connection_guard`), so the settings stay in the application's
configuration and one guard is shared by every connection of the server.
An application without one is served as by plain uvicorn. A connection
upgraded to a WebSocket leaves this count (the protocol object is replaced);
WebSocket sessions are capped by the applications themselves.
"""

import asyncio
import logging
import resource
from collections.abc import Callable
from typing import Any

from uvicorn.middleware.proxy_headers import _TrustedHosts
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from exchange.web.clientkey import client_key
from exchange.web.concurrency import ConnectionLimiter

PROTOCOL = "exchange.web.connguard:GuardedHttpToolsProtocol"
"""The value for uvicorn's `http=` option (uvicorn imports it by name)."""

log = logging.getLogger(__name__)


class ConnectionGuard:
    """Open TCP connections per client key (at most `per_ip` each), shared by a server."""

    __slots__ = ("exempt", "header_timeout", "open", "refused", "timed_out")

    def __init__(
        self,
        per_ip: int,
        header_timeout: float,
        exempt: Callable[[str], bool] = lambda host: False,
    ) -> None:
        if not header_timeout > 0:
            raise ValueError("header_timeout must be > 0")
        self.open = ConnectionLimiter(per_ip)
        self.header_timeout = header_timeout
        self.exempt = exempt
        """Addresses not capped (market data's allowlist); the header deadline still applies."""
        self.refused = 0
        """Connections closed at accept for being over the cap."""
        self.timed_out = 0
        """Connections closed for headers not complete in time."""


def _guard_of(app: Any) -> ConnectionGuard | None:
    """The guard of the application under uvicorn's wrappers (proxy headers, logging), if any."""
    for _ in range(8):
        state = getattr(app, "state", None)
        guard = getattr(state, "connection_guard", None) if state is not None else None
        if isinstance(guard, ConnectionGuard):
            return guard
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a per-address cap at accept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = _guard_of(self.app)
        self._key: str | None = None
        """The client key counted in the guard (None: not counted)."""
        self._header_timer: asyncio.TimerHandle | None = None
        proxies = self.config.forwarded_allow_ips if self.config.proxy_headers else None
        self._proxies = _TrustedHosts(proxies) if proxies else None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self._guard
        if guard is None:
            return
        host = self.client[0] if self.client else "unknown"
        if (self._proxies is not None and host in self._proxies) or guard.exempt(host):
            self._arm_header_timer()
            return
        key = client_key(host)
        if not guard.open.acquire(key):
            guard.refused += 1
            transport.abort()  # before a byte is read: the cheapest refusal there is
            return
        self._key = key
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        self._release()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm_header_timer()
        self._release()
        super().handle_websocket_upgrade()

    def _release(self) -> None:
        if self._key is not None and self._guard is not None:
            self._guard.open.release(self._key)
            self._key = None

    def _arm_header_timer(self) -> None:
        if self._guard is not None:
            self._header_timer = self.loop.call_later(
                self._guard.header_timeout, self._headers_too_slow
            )

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._guard is not None:
            self._guard.timed_out += 1
        if not self.transport.is_closing():
            self.transport.close()


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (a server holds a descriptor per client).

    The per-address cap bounds one client; this keeps the many from meeting
    a default soft limit of 1,024 (EMFILE at accept, and in journal reads).
    Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as error:
            log.warning("could not raise the open files limit to %s: %s", target, error)
    return soft
