"""A cap on what one key (a client address, a credential) has open at once.

Used for TCP connections at accept, requests in progress and WebSocket
sessions. Why: a rate limit bounds how fast a client asks, not how much it
holds; a few slow readers or thousands of idle sockets from one address would
otherwise exhaust the server. Memory is bounded by the open connections:
an address's count is dropped when it reaches zero. Pure, no I/O.
"""


class ConnectionLimiter:
    """Open counts per key, at most `max_per_ip` each (the name is historical: any key)."""

    __slots__ = ("_open", "max_per_ip")

    def __init__(self, max_per_ip: int) -> None:
        if max_per_ip < 1:
            raise ValueError("max_per_ip must be >= 1")
        self.max_per_ip = max_per_ip
        self._open: dict[str, int] = {}

    def acquire(self, ip: str) -> bool:
        """Count one more open connection for `ip`; False (nothing counted) when at the cap."""
        current = self._open.get(ip, 0)
        if current >= self.max_per_ip:
            return False
        self._open[ip] = current + 1
        return True

    def release(self, ip: str) -> None:
        """One connection of `ip` closed; never below zero, the key dropped at zero."""
        current = self._open.get(ip, 0)
        if current <= 1:
            self._open.pop(ip, None)
        else:
            self._open[ip] = current - 1

    def count(self, ip: str) -> int:
        """How many connections `ip` has open."""
        return self._open.get(ip, 0)

    def __len__(self) -> int:
        """How many addresses have at least one connection open."""
        return len(self._open)
