"""One port served by N forked processes: `exchange gateway --workers N`.

Why: one Python process uses one core; the gateway's cost per request is
what caps the exchange's REST rate, so more processes on more cores are the
way up. Each worker binds its own listening socket to the same address with
SO_REUSEPORT, and the kernel spreads new connections over the workers by a
hash of the connection (no shared accept queue whose wake-ups one busy
process would lose). A worker's socket starts listening only once its
application has started (uvicorn listens after the lifespan), so no
connection waits on a worker that cannot answer yet. The parent holds the
address bound (not listening) for the life of the service, so the port it
resolved stays reserved, and otherwise only watches its workers.

To the launcher it is one service: SIGTERM or SIGINT to the parent is sent
on to every worker (each finishes what is in flight, as a single uvicorn
does) and the parent exits 0 once they have; a worker that dies on its own
takes the service down (the others are stopped, exit 1), so its death is
seen by whoever supervises the service, never hidden by a silent restart.
Only processes of the same user can join a SO_REUSEPORT group (Linux).
"""

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

from exchange.lifecycle import Stop

log = logging.getLogger(__name__)
FAILED = 1
PR_SET_PDEATHSIG = 1


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not listening yet."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def _die_with_parent() -> None:
    """SIGTERM this process when its parent dies, even by SIGKILL (Linux prctl): no orphan
    worker keeps serving the port after its service is gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())


def _worker(serve: Callable[[socket.socket], int], host: str, port: int, parent: int) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the prctl
        raise SystemExit(FAILED)
    code = serve(reuse_port_socket(host, port))
    raise SystemExit(code)


def run_workers(
    count: int,
    host: str,
    port: int,
    serve: Callable[[socket.socket], int],
    *,
    stop: Stop,
    grace: float = 30.0,
) -> int:
    """Fork `count` workers, each `serve(socket)` on (host, port); 0 once stopped by a signal,
    1 if a worker died on its own (the rest are then stopped)."""
    if count < 1:
        raise ValueError("count must be >= 1")
    reserved = reuse_port_socket(host, port)  # the port, resolved and held for the workers
    try:
        port = reserved.getsockname()[1]
        context = multiprocessing.get_context("fork")
        workers = [
            context.Process(
                target=_worker,
                args=(serve, host, port, os.getpid()),
                name=f"worker-{n}",
                daemon=True,  # terminated by multiprocessing should this process end otherwise
            )
            for n in range(count)
        ]
        try:
            for process in workers:
                process.start()
            failed = _watch(workers, stop)
        finally:
            _stop_all(workers, grace)
    finally:
        reserved.close()
    codes = [process.exitcode for process in workers]
    if failed or any(code not in (0, -signal.SIGTERM) for code in codes):
        log.error("gateway workers exited with %s", codes)
        return FAILED
    return 0


def _watch(workers: Sequence[BaseProcess], stop: Stop) -> bool:
    """Wait for a stop (False) or a worker's own exit (True)."""
    sentinels = [process.sentinel for process in workers]
    while stop.running():
        ended = wait(sentinels, timeout=0.2)
        if ended and stop.running():  # a worker ended that was not told to
            dead = workers[sentinels.index(ended[0])]  # type: ignore[arg-type]
            dead.join()  # its sentinel closes a moment before it can be reaped
            log.error("gateway worker %s exited with %s", dead.pid, dead.exitcode)
            return True
    return False


def _stop_all(workers: Sequence[BaseProcess], grace: float) -> None:
    for process in workers:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in workers:
        if process.pid is None:
            continue  # never started
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
