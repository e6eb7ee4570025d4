"""`--processes N`: generator processes that each drive a share of the load, starting together.

One Python process cannot offer what the exchange can take: its event loop
(or its encoding) is one core. Each worker is a fresh interpreter (the
multiprocessing "spawn" method: the parent holds sockets, threads and an
event loop that a fork would copy half-alive), sets its share up (plan,
connections, streams), says it is ready, waits for the common start, drives
its share and sends back plain data: its recorder on the wire (HDR
encodings, merged by the parent) and its counts.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from exchange.lifecycle import Stop

T = TypeVar("T")

Ready = Callable[[], None]
"""Called by a worker once set up: returns when every worker is and the run starts."""
Job = Callable[[Any, Ready], dict[str, Any]]
"""(a worker's part, ready) -> its result; module-level, so a spawned process can import it."""


def _worker(job: Job, part: Any, index: int, messages: Any, go: Any) -> None:
    def ready() -> None:
        messages.put(("ready", index, None))
        go.wait()

    try:
        messages.put(("done", index, job(part, ready)))
    except BaseException:  # the parent reports it; a worker never hangs the run
        messages.put(("failed", index, traceback.format_exc(limit=8)))


def run_parts(
    job: Job,
    parts: Sequence[Any],
    *,
    on_start: Callable[[], None] = lambda: None,
    setup_s: float = 600,
    run_s: float = 3_600,
) -> list[dict[str, Any]]:
    """Run `job` once per part, each in its own process; their results in the parts' order.

    Every worker sets up, then all start at once (the slowest setup decides
    when; `on_start` is called just before); raises RuntimeError with the
    worker's traceback if one fails.
    """
    context = mp.get_context("spawn")
    messages = context.Queue()
    go = context.Event()
    workers = [
        context.Process(target=_worker, args=(job, part, i, messages, go), daemon=True)
        for i, part in enumerate(parts)
    ]
    for worker in workers:
        worker.start()
    results: list[dict[str, Any] | None] = [None] * len(parts)
    try:
        ready = 0
        while ready < len(parts):
            kind, index, payload = _next(messages, setup_s)
            if kind == "ready":
                ready += 1
            else:
                _failed(kind, index, payload)
        on_start()
        go.set()
        finished = 0
        while finished < len(parts):
            kind, index, payload = _next(messages, run_s)
            _failed(kind, index, payload)
            results[index] = payload
            finished += 1
    finally:
        for worker in workers:
            worker.join(timeout=10 if Stop.on_signals().running() else 0)
            if worker.is_alive():
                worker.kill()
                worker.join()
    return [r for r in results if r is not None]


def shares(items: Sequence[T], count: int) -> list[tuple[int, list[T]]]:
    """`items` in `count` contiguous shares as even as can be: (index of its first, share)."""
    out, start = [], 0
    for index in range(count):
        end = start + (len(items) - start) // (count - index)
        out.append((start, list(items[start:end])))
        start = end
    return out


def _next(messages: Any, timeout: float) -> tuple[str, int, Any]:
    """The next worker message; a stop signal (Ctrl-C, SIGTERM) ends the wait at once."""
    stop = Stop.on_signals()
    deadline = time.monotonic() + timeout
    while stop.running():
        try:
            message: tuple[str, int, Any] = messages.get(timeout=0.25)
        except queue.Empty:
            if time.monotonic() > deadline:
                raise RuntimeError(f"a generator process said nothing for {timeout:g} s") from None
            continue
        return message
    raise RuntimeError("stopped by a signal")


def _failed(kind: str, index: int, payload: Any) -> None:
    if kind == "failed":
        raise RuntimeError(f"generator process {index} failed:\n{payload}")
