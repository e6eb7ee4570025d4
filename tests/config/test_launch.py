"""One launcher and one lifecycle: every service starts from the config file, reports ready,
and stops cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx
import pytest

from exchange.config import ExchangeConfig, updated
from exchange.launch import Fleet, Service, ServiceFailedError, on_free_ports, probe, service
from exchange.services import migrate

ROOT = Path(__file__).resolve().parents[2]
ORDER = ("engine", "gateway", "marketdata", "fix", "reporter", "standby")


def _toml(config: ExchangeConfig) -> str:
    """The settings a test changes, as an operator would write them."""
    return (
        f'data_dir = "{config.data_dir}"\n'
        f'[engine]\nendpoint = "{config.engine.endpoint}"\npublish = "{config.engine.publish}"\n'
        'calendar = "always-open"\n'
        f"[gateway]\nport = {config.gateway.port}\n"
        f"[marketdata]\nport = {config.marketdata.port}\nnice = 0\n"
        f"[fix]\nport = {config.fix.port}\n"
    )


def test_every_service_starts_from_one_toml_file_and_stops_cleanly(tmp_path: Path) -> None:
    config = on_free_ports(ExchangeConfig(), tmp_path / "data")
    path = tmp_path / "exchange.toml"
    path.write_text(_toml(config))
    config = updated(config, {"engine.calendar": "always-open", "marketdata.nice": 0})
    migrate(config)
    with Fleet() as fleet:
        for kind in ORDER:
            fleet.start(
                Service(
                    kind,
                    [sys.executable, "-m", "exchange", kind, "--config", str(path)],
                    probe=probe(kind, config),
                    log=tmp_path / f"{kind}.log",
                    cwd=ROOT,
                )
            )
        # The file's ports are the ones served: readiness came through them.
        assert httpx.get(f"http://127.0.0.1:{config.gateway.port}/readyz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{config.marketdata.port}/readyz").status_code == 200
        assert all(s.healthy() for s in fleet.services)
        failed = fleet.stop(grace=20)
    assert not failed, [(s.name, s.returncode, (tmp_path / f"{s.name}.log").read_text()[-2000:])
                        for s in failed]  # fmt: skip
    assert all(s.returncode == 0 for s in fleet.services), [
        (s.name, s.returncode) for s in fleet.services
    ]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_every_service_stops_with_exit_0_on_either_signal(tmp_path: Path, signum: int) -> None:
    config = updated(
        on_free_ports(ExchangeConfig(), tmp_path / "data"),
        {"engine.calendar": "always-open", "marketdata.nice": 0},
    )
    migrate(config)
    started: list[Service] = []
    try:
        for kind in ORDER:
            started.append(service(kind, config, log=tmp_path / f"{kind}.log").start())
            started[-1].wait_ready()
        for running in reversed(started):
            running.signal(signum)
            assert running.wait(20) == 0, (running.name, running.log.read_text()[-2000:])  # type: ignore[union-attr]
    finally:
        for running in started:
            running.kill()


def test_a_service_that_exits_while_starting_is_an_error_at_once(tmp_path: Path) -> None:
    config = on_free_ports(ExchangeConfig(), tmp_path / "data")
    migrate(config)
    blocked = service("gateway", updated(config, {"gateway.host": "203.0.113.1"}),
                      log=tmp_path / "gateway.log")  # fmt: skip
    with pytest.raises(ServiceFailedError, match="gateway exited"):
        blocked.start().wait_ready(seconds=60)


def test_the_engine_is_ready_only_when_it_answers(tmp_path: Path) -> None:
    config = on_free_ports(ExchangeConfig(), tmp_path / "data")
    engine = service("engine", config, quiet=True)
    answers = probe("engine", config)
    assert answers is not None and not answers()
    try:
        engine.start().wait_ready()
        assert answers()
    finally:
        engine.stop()
    assert engine.returncode == 0
