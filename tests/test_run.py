"""`exchange run` (what `make run` starts): engine + gateway, demo accounts via the API, restart."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from exchange.engine.ports import free_ports
from tests.fix.client import FixClient

ROOT = Path(__file__).resolve().parents[1]


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_ADMIN")}
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _run_options(data: Path) -> tuple[list[str], int, int, int]:
    """`exchange run` options on free ports; and the REST, market data and FIX ports."""
    requests, batches, journal, port, md_port, fix_port = free_ports(6)
    options = [
        *("--data-dir", str(data)),
        *("--endpoint", f"tcp://127.0.0.1:{requests}"),
        *("--publish", f"tcp://127.0.0.1:{batches}"),
        *("--journal-service", f"tcp://127.0.0.1:{journal}"),
        *("--port", str(port)),
        *("--marketdata-port", str(md_port)),
        *("--fix-port", str(fix_port)),
    ]
    return options, port, md_port, fix_port


def _start_run(options: list[str], ready: str, stderr: IO[str] | int) -> subprocess.Popen[str]:
    """`exchange run` in the background, returned once it has printed a line starting `ready`."""
    started = subprocess.Popen(
        [sys.executable, "-m", "exchange", "run", *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
    )  # fmt: skip
    assert started.stdout is not None
    for line in started.stdout:
        if line.startswith(ready):
            break
    return started


def _child_pids(pid: int) -> list[str]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return found.stdout.split()


def _children(pid: int) -> list[str]:
    """The command lines of a process's live children (what did not stop)."""
    out = []
    for child in _child_pids(pid):
        try:
            out.append(Path(f"/proc/{child}/cmdline").read_text().replace("\0", " ").strip())
        except OSError:
            continue
    return out


def test_run_starts_everything_sets_up_demo_accounts_and_continues(tmp_path: Path) -> None:
    data = tmp_path / "var"
    run_options, port, md_port, fix_port = _run_options(data)
    options = [*run_options, "--no-wait", "--orders", "400"]
    first = run(data, "run", *options)
    assert first.returncode == 0, first.stderr
    assert "400 orders through the REST API" in first.stdout
    credentials_file = data / "demo-credentials.json"
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    credentials = json.loads(credentials_file.read_text())
    assert len(credentials) == 6
    admin, *traders = credentials
    assert admin["scopes"] == ["admin", "compliance"] and admin["accountId"] is None
    assert all(set(t) == {"accountId", "clientId", "clientSecret", "scopes"} for t in traders)
    assert str(credentials_file) in first.stdout  # where the newcomer finds them
    assert all(c["clientSecret"] not in first.stdout for c in credentials)  # never printed (L4)
    assert "\nready: " in first.stdout
    after_first = json.loads(run(data, "replay", str(data)).stdout)
    assert after_first["instruments"] == 100 and after_first["accounts"] == 5
    assert after_first["session_open"] is True
    assert after_first["trades"] > 0

    second = run(data, "run", *options)
    assert second.returncode == 0, second.stderr
    assert json.loads(credentials_file.read_text()) == credentials  # the same accounts
    after_second = json.loads(run(data, "replay", str(data), "--verify").stdout)
    assert after_second["accounts"] == 5  # the demo setup was not applied twice
    assert after_second["last_seq"] >= after_first["last_seq"] + 400
    assert after_second["trades"] > after_first["trades"]
    assert after_second["verified"] is True
    # The demo credentials work against a fresh start, as the README shows.
    with_gateway = _start_run(run_options, "exchange running", subprocess.DEVNULL)
    try:
        trader = traders[0]
        login = httpx.post(
            f"http://127.0.0.1:{port}/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": trader["clientId"],
                  "client_secret": trader["clientSecret"]},
        )  # fmt: skip
        assert login.status_code == 200
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        placed = httpx.post(
            f"http://127.0.0.1:{port}/v1/order",
            json={"symbol": "FOOLAD", "side": "buy", "type": "limit", "price": 5_159,
                  "quantity": 10, "timeInForce": "gtc"},
            headers=headers,
        )  # fmt: skip
        assert placed.status_code == 200 and placed.json()["status"] == "new", placed.text
        account = httpx.get(f"http://127.0.0.1:{port}/v1/account", headers=headers).json()
        assert account["accountId"] == trader["accountId"]
        # The public market data shows the demo's trades.
        summary = httpx.get(f"http://127.0.0.1:{md_port}/v1/marketdata/summary").json()
        assert len(summary["symbols"]) == 100
        assert sum(s["volume"] for s in summary["symbols"]) > 0
        assert httpx.get(f"http://127.0.0.1:{md_port}/").status_code == 200
        # The reporter runs too: the trader's history is served from its database.
        for _ in range(100):
            history = httpx.get(f"http://127.0.0.1:{port}/v1/execution", headers=headers)
            if history.status_code == 200 and history.json()["executions"]:
                break
            time.sleep(0.1)
        assert history.status_code == 200 and history.json()["executions"]
        # A demo account logs on over FIX with its clientId and clientSecret.
        fix = FixClient(fix_port, trader["clientId"], trader["clientSecret"])
        try:
            assert fix.logon(reset=True).msg_type == "A"
        finally:
            fix.close()
    finally:
        with_gateway.send_signal(2)  # Ctrl-C
        try:
            assert with_gateway.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            alive = _children(with_gateway.pid)
            subprocess.run(["pkill", "-KILL", "-P", str(with_gateway.pid)], check=False)
            with_gateway.kill()
            raise AssertionError(f"still running 60 s after Ctrl-C: {alive}") from None
    reconciled = run(data, "reconcile", "--data-dir", str(data))
    assert reconciled.returncode == 0, reconciled.stdout


def test_sigterm_stops_every_process_it_started(tmp_path: Path) -> None:
    """A supervisor's SIGTERM stops the services and the engine too, not `exchange run` alone."""
    options = [*_run_options(tmp_path / "var")[0], "--orders", "10"]
    started = _start_run(options, "Ctrl-C stops it", (tmp_path / "stderr").open("w"))
    try:
        children = _child_pids(started.pid)
        assert len(children) == 6  # engine, gateway, market data, reporter, FIX, standby
        started.terminate()
        assert started.wait(timeout=60) == 0, (tmp_path / "stderr").read_text()[-3000:]
        for child in children:
            assert (
                not Path(f"/proc/{child}").exists()
                or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
            )
    finally:
        if started.poll() is None:
            started.kill()
        for orphan in _children(1):  # if the test failed: what it left, re-parented to init
            if str(tmp_path) in orphan:
                subprocess.run(["pkill", "-KILL", "-f", orphan], check=False)


def test_fresh_starts_all_reach_ready(tmp_path: Path) -> None:
    """Schemas before services: two services no longer race to create the same tables.

    On 56b90ba about one start in seven died with `table accounts already exists`; 12 starts
    catch such a race 84 % of the time (20 did 95 %, but each start now forks the gateway's
    workers too, and 20 took 190 s of the suite).
    """
    for attempt in range(12):
        data = tmp_path / f"var{attempt}"
        options = [*_run_options(data)[0], "--no-wait", "--orders", "0"]
        started = run(data, "run", *options)
        assert started.returncode == 0, f"start {attempt}: {started.stderr[-3000:]}"
        assert "\nready: " in started.stdout, started.stdout


def test_credentials_file_appears_only_when_its_accounts_can_trade(tmp_path: Path) -> None:
    """A client that starts the moment demo-credentials.json appears can sell at once.

    On 56b90ba the file was written as each account was opened, before its deposits,
    so such a client got INSUFFICIENT_SHARES.
    """
    data = tmp_path / "var"
    run_options, port, _, _ = _run_options(data)
    started = subprocess.Popen(
        [sys.executable, "-m", "exchange", "run", *run_options, "--orders", "200"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    credentials_file = data / "demo-credentials.json"
    try:
        deadline = time.monotonic() + 240
        while not credentials_file.exists():
            assert started.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        trader = next(c for c in json.loads(credentials_file.read_text()) if "trade" in c["scopes"])
        login = httpx.post(
            f"http://127.0.0.1:{port}/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": trader["clientId"],
                  "client_secret": trader["clientSecret"]},
        )  # fmt: skip
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        sold = httpx.post(
            f"http://127.0.0.1:{port}/v1/order",
            json={"symbol": "KHODRO", "side": "sell", "type": "limit", "price": 2_630,
                  "quantity": 1_000, "timeInForce": "gtc"},
            headers=headers,
        )  # fmt: skip
        assert sold.status_code == 200, sold.text
        assert sold.json()["status"] in ("new", "partially_filled", "filled"), sold.json()
    finally:
        started.send_signal(2)  # Ctrl-C
        try:
            started.wait(timeout=60)
        except subprocess.TimeoutExpired:
            subprocess.run(["pkill", "-KILL", "-P", str(started.pid)], check=False)
            started.kill()


def test_run_takes_its_whole_config_from_a_toml_file(tmp_path: Path) -> None:
    """`exchange run --config exchange.toml`: the file's data directory, ports and endpoints,
    with a command-line option over the file."""
    requests, batches, port, md_port, fix_port, other_port = free_ports(6)
    data = tmp_path / "from-file"
    config = tmp_path / "exchange.toml"
    config.write_text(
        f'data_dir = "{data}"\n'
        f'[engine]\nendpoint = "tcp://127.0.0.1:{requests}"\n'
        f'publish = "tcp://127.0.0.1:{batches}"\n'
        f"[gateway]\nport = {other_port}\n"
        f"[marketdata]\nport = {md_port}\n"
        f"[fix]\nport = {fix_port}\n"
    )
    started = run(data, "run", "--config", str(config), "--port", str(port), "--no-wait",
                  "--orders", "20")  # fmt: skip
    assert started.returncode == 0, started.stderr[-3000:]
    assert f"ready: http://127.0.0.1:{port}/readyz" in started.stdout  # the option over the file
    assert f"http://127.0.0.1:{md_port}/readyz" in started.stdout
    assert f"FIX 4.4 on 127.0.0.1:{fix_port}" in started.stdout
    assert (data / "demo-credentials.json").exists() and (data / "journal").is_dir()
    # An unknown key is refused before anything starts.
    config.write_text(config.read_text() + "[gateway.limits]\nburst = 3\n")
    refused = run(data, "run", "--config", str(config), "--no-wait")
    assert refused.returncode != 0 and "limits" in refused.stderr, refused.stderr
