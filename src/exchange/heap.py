"""Keep the cyclic garbage collector's full pauses off the trading path.

A full collection walks every object the collector tracks. A service's
startup leaves tens of thousands that live as long as the process
(modules, classes, functions, recovered state); left in the oldest
generation, they made each full collection of the gateway and of the load
generator pause 20-80 ms under load, and those pauses were the exchange's
round-trip p99 (bench/RESULTS.md, "Profile-driven changes"). `settle()`
collects once, then freezes what survived (`gc.freeze`), so later full
collections walk only what the service allocated since. Frozen objects are
still freed by reference counting; only cycles among them are never
collected, and the startup state is kept for the life of the process.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def settle() -> None:
    """Call once the service is ready to serve: its startup state is out of the collector's way."""
    gc.collect()
    gc.freeze()


@contextmanager
def quiet() -> Iterator[None]:
    """No automatic collection inside the block, one full collection after.

    For a measuring tool's timed window (the load generator): its own pauses
    would be charged to the exchange's latency. Not for a service, whose
    garbage must not wait for the end of a block.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect()
