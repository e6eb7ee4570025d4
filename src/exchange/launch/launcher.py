"""How every service of the exchange is started from the one config: the composition root's
outside. `exchange run`, `exchange bench --spawn`, the cluster harness, the tests and the bench
scripts all start processes through `service()`; nothing else builds a `python -m exchange`
command line.
"""

import sys
from collections.abc import Iterable
from pathlib import Path

from exchange.config import ExchangeConfig, argv, secret_env
from exchange.config.model import updated
from exchange.engine.curve import KeyDirectory
from exchange.engine.ports import free_ports
from exchange.launch.probes import Probe, engine_answers, http_ready, listening
from exchange.launch.process import Service, ServiceFailedError, child_environment

KINDS = ("engine", "standby", "gateway", "marketdata", "fix", "reporter")


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a probe's target


def probe(kind: str, config: ExchangeConfig) -> Probe | None:
    """What says `kind` serves: the engine answers, HTTP /readyz is 200, FIX accepts."""
    if kind == "engine" and not config.cluster.etcd:
        keys = KeyDirectory(config.keys_dir).ensure()  # made here if the engine is not up yet
        return engine_answers(config.engine.endpoint, keys.client("trading"))
    if kind == "gateway":
        settings = config.gateway
        return http_ready(f"http://{_local(settings.host)}:{settings.port}/readyz")
    if kind == "marketdata":
        md = config.marketdata
        return http_ready(f"http://{_local(md.host)}:{md.port}/readyz")
    if kind == "fix":
        return listening(_local(config.fix.host), config.fix.port)
    return None  # the standby and the reporter serve nobody; a cluster node may follow


def command(kind: str, config: ExchangeConfig, *extra: str) -> list[str]:
    """`python -m exchange <kind>` with the options that give it `config` (secrets aside)."""
    if kind not in KINDS:
        raise ValueError(f"no service {kind!r}; one of {', '.join(KINDS)}")
    return [sys.executable, "-m", "exchange", kind, *argv(kind, config), *extra]


def service(
    kind: str,
    config: ExchangeConfig,
    *extra: str,
    name: str | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    quiet: bool = False,
    cwd: Path | None = None,
) -> Service:
    """A service of `kind` that runs with `config`, not started yet. Secret settings go by
    environment; `env` adds variables (an admin's credential); `extra`: more options."""
    return Service(
        name=name or kind,
        argv=command(kind, config, *extra),
        env=child_environment({**secret_env(kind, config), **(env or {})}),
        probe=probe(kind, config),
        log=log,
        quiet=quiet,
        cwd=cwd,
    )


def on_free_ports(config: ExchangeConfig, data_dir: Path | None = None) -> ExchangeConfig:
    """`config` with every port free now (engine requests, batches and journal service,
    gateway, market data, FIX) and, if given, another data directory: for tests and
    side-by-side exchanges."""
    requests, batches, journal, gateway, marketdata, fix = free_ports(6)
    changes: dict[str, object] = {
        "engine.endpoint": f"tcp://127.0.0.1:{requests}",
        "engine.publish": f"tcp://127.0.0.1:{batches}",
        "engine.journal_service": f"tcp://127.0.0.1:{journal}",
        "gateway.port": gateway,
        "marketdata.port": marketdata,
        "fix.port": fix,
    }
    if data_dir is not None:
        changes["data_dir"] = str(data_dir)
    return updated(config, changes)


class Fleet:
    """Services started in order and stopped in the reverse order (the engine, started first,
    stops last: the others follow it; a standby, started last, stops first, or it would
    take over)."""

    def __init__(self) -> None:
        self.services: list[Service] = []

    def start(self, service: Service, *, ready: bool = True, seconds: float = 60) -> Service:
        self.services.append(service.start())
        if ready:
            service.wait_ready(seconds)
        return service

    def __getitem__(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def get(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    def exited(self, among: Iterable[str] | None = None) -> list[Service]:
        names = set(among) if among is not None else None
        return [s for s in self.services if not s.alive and (names is None or s.name in names)]

    def stop(self, grace: float = 30) -> list[Service]:
        """Stop every service, last started first; the ones that did not stop cleanly."""
        for service in reversed(self.services):
            if service.alive:
                service.stop(grace)
                if not service.stopped_cleanly():
                    print(f"{service.name} (pid {service.pid}) exited with "
                          f"{service.returncode}", file=sys.stderr, flush=True)  # fmt: skip
        return [s for s in self.services if not s.stopped_cleanly()]

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["KINDS", "Fleet", "Service", "ServiceFailedError", "command", "on_free_ports", "service"]
