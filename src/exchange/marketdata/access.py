"""IP block and allow lists for the public market-data server, reloaded without a restart.

Why: an abusive address must be cut off now, not at the next deploy, and a
partner's addresses must never be throttled. The lists are plain files an
operator edits; they are re-read when they change (checked at most every
`check_every` seconds by the injected clock), so a lookup costs a set
membership test plus a scan of the (few) networks.

A file holds one entry per line: an IPv4/IPv6 address or a CIDR network;
`#` starts a comment, blank lines are ignored. A malformed line is skipped
with a warning, never fatal: one typo must not open or close the server.
A missing file is an empty list. The allowlist wins over the blocklist.
"""

import ipaddress
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Signature = tuple[int, int] | None
"""(st_mtime_ns, st_size) of a file, None when it does not exist."""


class _List:
    """One file's entries: exact addresses in a set, networks in a (short) list."""

    __slots__ = ("addresses", "networks", "path", "signature")

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.signature: Signature = None
        self.addresses: frozenset[Address] = frozenset()
        self.networks: tuple[Network, ...] = ()

    def refresh(self) -> None:
        """Re-read the file if its signature changed (including appearing or disappearing)."""
        if self.path is None:
            return
        signature = _signature(self.path)
        if signature == self.signature:
            return
        self.signature = signature
        text = _read(self.path) if signature is not None else ""
        self.addresses, self.networks = parse(text, str(self.path))

    def __contains__(self, ip: Address) -> bool:
        if ip in self.addresses:
            return True
        return any(ip in network for network in self.networks)


class AccessLists:
    """A blocklist and an allowlist of addresses and networks, from files re-read on change.

    An ip string that cannot be parsed (say "unknown" when the server has no
    peer address) cannot match any entry: it is allowed and not exempt.
    """

    __slots__ = ("_allow", "_block", "_checked", "check_every", "clock")

    def __init__(
        self,
        blocklist: Path | None,
        allowlist: Path | None,
        *,
        check_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.check_every = check_every
        self.clock = clock
        self._block = _List(blocklist)
        self._allow = _List(allowlist)
        self._block.refresh()
        self._allow.refresh()
        self._checked = clock()

    def allowed(self, ip: str) -> bool:
        """False only if `ip` is blocklisted and not allowlisted; unparsable ips are allowed."""
        address = self._lookup(ip)
        if address is None:
            return True
        return address not in self._block or address in self._allow

    def exempt(self, ip: str) -> bool:
        """True if `ip` is allowlisted: it skips rate limits and connection caps."""
        address = self._lookup(ip)
        return address is not None and address in self._allow

    def _lookup(self, ip: str) -> Address | None:
        self._maybe_reload()
        try:
            return _unmap(ipaddress.ip_address(ip))
        except ValueError:
            return None

    def _maybe_reload(self) -> None:
        now = self.clock()
        if now - self._checked < self.check_every:
            return
        self._checked = now
        self._block.refresh()
        self._allow.refresh()


def parse(text: str, source: str = "<list>") -> tuple[frozenset[Address], tuple[Network, ...]]:
    """Addresses and networks from a list's text; malformed lines are logged and skipped."""
    addresses: set[Address] = set()
    networks: list[Network] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            if "/" in line:
                networks.append(ipaddress.ip_network(line, strict=False))
            else:
                addresses.add(_unmap(ipaddress.ip_address(line)))
        except ValueError:
            log.warning("%s:%d: skipping malformed entry %r", source, number, line)
    return frozenset(addresses), tuple(networks)


def _unmap(address: Address) -> Address:
    """ "::ffff:1.2.3.4" (from a dual-stack socket) as 1.2.3.4, so IPv4 entries match it."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _signature(path: Path) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        log.warning("%s: cannot read (%s); treating as empty", path, exc)
        return ""
