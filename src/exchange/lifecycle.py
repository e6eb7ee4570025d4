"""How every long-running service stops: SIGTERM or SIGINT sets one `Stop`, nothing else does.

Each service's main loop asks `stop.running()` (engine, standby, reporter,
cluster node) or awaits it (the FIX acceptor); uvicorn's services
(gateway, market data) get the same two signals handled by uvicorn the same
way: finish what is in flight, then exit 0 (uvicorn re-raises the signal it
caught once it is done; it reaches our handler, not the default that would
end the process with -SIGTERM). A second signal while stopping
changes nothing: a stop is never cut short half-way by an impatient Ctrl-C.
"""

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PROCESS_STOP: "Stop | None" = None


class Stop:
    """Set once, by a stop signal or by the service itself; callbacks run at that moment."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []

    @classmethod
    def on_signals(cls) -> "Stop":
        """The process's Stop, set by SIGTERM and SIGINT (SIGINT too: a shell that starts a
        job in the background leaves it ignoring SIGINT). Installed once, as early as `main`,
        so a signal that comes while the service still imports is kept, not fatal."""
        global _PROCESS_STOP
        if _PROCESS_STOP is None:
            stop = _PROCESS_STOP = cls()

            def handler(signum: int, frame: FrameType | None) -> None:
                stop.set()

            for signum in STOP_SIGNALS:
                signal.signal(signum, handler)
        return _PROCESS_STOP

    def set(self) -> None:
        if self._event.is_set():
            return
        self._event.set()
        for callback in self._callbacks:
            callback()

    def running(self) -> bool:
        return not self._event.is_set()

    def when_stopped(self, callback: Callable[[], None]) -> None:
        """Run `callback` at the stop (at once if already stopped)."""
        self._callbacks.append(callback)
        if self._event.is_set():
            callback()

    def event(self) -> asyncio.Event:
        """An asyncio.Event of the running loop, set at the stop (signal handlers run in the
        main thread between bytecodes, so it is set through the loop, never directly)."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(event.set)

        self.when_stopped(wake)
        return event
