"""Wait for a process we started to serve: its /readyz (or /healthz) answers, or its port accepts.

Shared by the entry points that start the exchange's processes (`exchange
run`, `exchange bench --spawn`). A process that exits while we wait is an
error at once, not a timeout.
"""

import socket
import subprocess
import time

import httpx


def wait_healthy(
    base: str, process: subprocess.Popen[bytes], seconds: float = 60, path: str = "/healthz"
) -> None:
    """Until `base + path` answers 200 (`/readyz`: the service can serve, not only runs)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{base} exited with {process.returncode}")
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base} did not come up in {seconds} s")


def wait_listening(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")
