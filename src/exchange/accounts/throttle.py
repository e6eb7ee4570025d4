"""Failed credential checks slow down per client id: a few free, then doubling waits.

Why: secrets are random 256-bit values, so guessing one is hopeless; but an
operator may configure a guessable admin secret, and a credential still
hashed with Argon2 (from an earlier version) costs 0.25 s per check until
its first successful login. After `free` consecutive failures for a client
id, further checks of it are refused (without looking at the secret) for
1 s, then 2 s, 4 s ... up to `max_wait`; a success resets the count.
Someone who knows a client id can delay its owner's logins by at most
`max_wait` per failure they spend; the owner's existing tokens and sessions
are not affected. Per process (each gateway and FIX acceptor counts on its
own); memory is bounded (least recently failed ids are forgotten first).
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class FailureThrottle:
    def __init__(
        self,
        *,
        free: int = 5,
        max_wait: float = 60.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.max_wait = max_wait
        self.max_keys = max_keys
        self.clock = clock
        self._lock = threading.Lock()  # checks run in worker threads
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
        """client id -> (consecutive failures, refused until), least recently failed first"""

    def wait(self, key: str) -> float:
        """Seconds until `key` may be checked again (0.0: now)."""
        with self._lock:
            state = self._failures.get(key)
        if state is None:
            return 0.0
        return max(0.0, state[1] - self.clock())

    def failed(self, key: str) -> None:
        with self._lock:
            count = self._failures.pop(key, (0, 0.0))[0] + 1
            until = 0.0
            if count >= self.free:
                until = self.clock() + min(self.max_wait, 2.0 ** (count - self.free))
            if len(self._failures) >= self.max_keys:
                self._failures.popitem(last=False)
            self._failures[key] = (count, until)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)
