"""One service as a child process, with the lifecycle every service shares.

start -> ready (its probe answers; an exit while waiting is an error at
once, never a timeout) -> healthy (alive and still answering) -> stop
(SIGTERM, then SIGKILL after a grace period) or kill (SIGKILL, for crash
tests). Its output goes to a log file in the data directory, or is
inherited when none is given.
"""

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from exchange.launch.probes import Probe, catches_stop_signal


class ServiceFailedError(RuntimeError):
    """A service exited, or did not become ready in time, while it was being started."""


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    """The whole environment (None: ours)."""
    probe: Probe | None = None
    """When it is ready (None: once it handles SIGTERM, so a stop from then on is clean)."""
    log: Path | None = None
    """stdout and stderr are appended here (None: inherited; DEVNULL with `quiet`)."""
    quiet: bool = False
    cwd: Path | None = None
    process: "subprocess.Popen[bytes] | None" = field(default=None, repr=False)

    def start(self) -> "Service":
        output: IO[bytes] | int | None = subprocess.DEVNULL if self.quiet else None
        log = open(self.log, "ab") if self.log is not None else None  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=log or output,
                stderr=log or output,
            )
        finally:
            if log is not None:
                log.close()  # the child holds its own descriptor
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was not started"
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def healthy(self) -> bool:
        return self.alive and (self.probe is None or self.probe())

    def wait_ready(self, seconds: float = 60) -> "Service":
        deadline = time.monotonic() + seconds
        while True:
            if not self.alive:
                raise ServiceFailedError(
                    f"{self.name} exited with {self.returncode}{self._see_log()}"
                )
            if self.probe() if self.probe is not None else catches_stop_signal(self.pid):
                return self
            if time.monotonic() > deadline:
                raise ServiceFailedError(
                    f"{self.name} not ready after {seconds} s{self._see_log()}"
                )
            time.sleep(0.05)

    def _see_log(self) -> str:
        return f" (see {self.log})" if self.log is not None else ""

    def signal(self, signum: int) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signum)

    def wait(self, seconds: float | None = None) -> int:
        assert self.process is not None, f"{self.name} was not started"
        return self.process.wait(seconds)

    def stop(self, grace: float = 30) -> int | None:
        """SIGTERM and wait; SIGKILL after `grace` seconds. The exit code (None: never started)."""
        if self.process is None:
            return None
        self.signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> int | None:
        """SIGKILL and reap: a crash, for tests and for a stop that did not finish."""
        if self.process is None:
            return None
        self.signal(signal.SIGKILL)
        return self.process.wait()

    def stopped_cleanly(self) -> bool:
        return self.returncode in (0, -signal.SIGTERM)


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **(extra or {})}
