"""Waiting for a real process to serve: one helper for every test that starts one."""

from __future__ import annotations

import time

import httpx


def wait_healthy(base: str, what: str = "the server", attempts: int = 200) -> None:
    """Until GET {base}/healthz answers 200; an error if it never does."""
    for _ in range(attempts):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} at {base} did not come up")
