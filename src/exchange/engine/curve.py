"""Who may talk to the engine, and as what: ZeroMQ CURVE keys and a role per key (review C1).

The engine's request (ROUTER) and batch (PUB) sockets are CURVE servers: a
peer completes the handshake only with a client key the engine knows, and
only with the engine's own server key, which every client pins (an
impostor bound on a free engine port during a takeover has neither). Each
client key has one role:

- `trading`: orders, cancels and balance queries (the gateway's and FIX
  acceptor's trading path);
- `admin`: besides, accounts, deposits, withdrawals, listings and account
  status (the gateway's admin endpoints, operators' tools);
- `feed`: the batch feed only (market data, reporter, the views); it can
  send no command at all.

Session commands (open, close) come from the engine's own scheduler, never
from the wire. The keys live in one directory (`<data dir>/keys`, 0700,
secret files 0600), made once by `exchange migrate` or the first engine
start; a cluster's nodes and every service share a copy of it.
"""

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import zmq
from zmq.auth.thread import ThreadAuthenticator

from exchange.core import (
    AddInstrument,
    CancelOrder,
    Command,
    Deposit,
    NewOrder,
    OpenAccount,
    SetAccountStatus,
    SetInstrumentStatus,
    Withdraw,
)

log = logging.getLogger(__name__)

SERVER: Final = "engine"
ROLES: Final = ("trading", "admin", "feed")
ZAP_DOMAIN: Final = "exchange"

TRADING_COMMANDS: Final[frozenset[type]] = frozenset({NewOrder, CancelOrder})
ADMIN_COMMANDS: Final[frozenset[type]] = TRADING_COMMANDS | {
    OpenAccount,
    SetAccountStatus,
    Deposit,
    Withdraw,
    AddInstrument,
    SetInstrumentStatus,
}
ALLOWED: Final[dict[str, frozenset[type]]] = {
    "trading": TRADING_COMMANDS,
    "admin": ADMIN_COMMANDS,
    "feed": frozenset(),
}
"""Commands each role may send; anything else (session commands above all) is refused."""
QUERY_ROLES: Final = frozenset({"trading", "admin"})
"""Roles that may ask for an account's balances."""


class KeysMissingError(RuntimeError):
    """No keys yet: `exchange migrate` (or the engine's first start) makes them."""


@dataclass(frozen=True)
class KeyPair:
    public: bytes
    """z85, 40 bytes."""
    secret: bytes


def _write_once(path: Path, content: bytes) -> None:
    """`content` at `path` unless a file is there already; atomic, 0600 (a second process
    making the same key at the same moment keeps the first one's, whole)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


class KeyDirectory:
    """The engine's server key and one client key per role, each in `<name>.key` (0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def ensure(self) -> "KeyDirectory":
        """Make every key that is missing; existing keys are kept."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in (SERVER, *ROLES):
            target = self.path / f"{name}.key"
            if not target.exists():
                public, secret = zmq.curve_keypair()
                _write_once(target, public + b"\n" + secret + b"\n")
        return self

    def pair(self, name: str) -> KeyPair:
        try:
            lines = (self.path / f"{name}.key").read_bytes().split()
        except FileNotFoundError:
            raise KeysMissingError(
                f"no {name} key in {self.path}: run `exchange migrate` (or start the engine) first"
            ) from None
        if len(lines) != 2 or len(lines[0]) != 40 or len(lines[1]) != 40:
            raise KeysMissingError(f"{self.path / f'{name}.key'} is not a CURVE key pair")
        return KeyPair(lines[0], lines[1])

    def roles(self) -> dict[bytes, str]:
        """Client public key (z85) -> role."""
        return {self.pair(role).public: role for role in ROLES}

    def client(self, role: str) -> "ClientKeys":
        if role not in ROLES:
            raise ValueError(f"no role {role!r}; one of {', '.join(ROLES)}")
        return ClientKeys(self.pair(role), self.pair(SERVER).public)


@dataclass(frozen=True)
class ClientKeys:
    """What a client needs: its role's key pair and the engine's public key, pinned."""

    pair: KeyPair
    server: bytes

    def apply(self, socket: Any) -> None:
        """Make `socket` a CURVE client of the engine (before it connects)."""
        socket.curve_secretkey = self.pair.secret
        socket.curve_publickey = self.pair.public
        socket.curve_serverkey = self.server


class _RoleAuthenticator(ThreadAuthenticator):
    """ZAP in a thread of the engine's context: a known client key passes, and its role
    becomes the User-Id of every message it sends (read by the engine per message)."""

    def __init__(self, context: "zmq.Context[Any]", roles: dict[bytes, str]) -> None:
        super().__init__(context, log=logging.getLogger(f"{__name__}.zap"))
        self._roles = roles

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self._roles

    def curve_user_id(self, client_public_key: bytes) -> str:
        return self._roles[zmq.utils.z85.encode(client_public_key)]


class CurveServer:
    """The engine's side: its sockets as CURVE servers, and the ZAP thread that checks keys."""

    def __init__(self, context: "zmq.Context[Any]", keys: KeyDirectory) -> None:
        self.pair = keys.pair(SERVER)
        self.authenticator = _RoleAuthenticator(context, keys.roles())
        self.authenticator.start()
        self.authenticator.configure_curve_callback(
            ZAP_DOMAIN, credentials_provider=self.authenticator
        )

    def apply(self, socket: Any) -> None:
        """Make `socket` a CURVE server (before it binds)."""
        socket.zap_domain = ZAP_DOMAIN.encode()
        socket.curve_secretkey = self.pair.secret
        socket.curve_publickey = self.pair.public
        socket.curve_server = True

    def stop(self) -> None:
        self.authenticator.stop()


def keys_for(journal: Path, keys_dir: Path | None) -> KeyDirectory:
    """A service's key directory: the one configured, else the engine's data directory's
    (the one its journal is in)."""
    return KeyDirectory(keys_dir or journal.parent / "keys")


def allowed(role: str | None, command: Command) -> bool:
    """May a peer with this role send this command?"""
    return role is not None and type(command) in ALLOWED.get(role, frozenset())
