"""The same gateway application under each ASGI server, one worker, the same load: CPU per order.

Issue 15 asks to measure uvicorn (what `exchange gateway` runs) against
Granian and any other well-kept server on the same app. This starts one
engine (the load generator's own config: limits raised, always open), then,
for each server in turn and `--runs` times alternating, one gateway process
serving `exchange.gateway.create_app` for that engine, and drives it with
`exchange bench --gateway URL --gateway-pid PID` (open loop, users with
their streams). The figure is the gateway process's CPU per answered
request (`cpu_us_per_request.gateway`), plus the round trip percentiles.

    python bench/asgi_servers.py [--servers uvicorn,granian] [--rate 1000] [--seconds 20]

Granian (Rust, `pip install granian`) serves the app without web/connguard.py
(uvicorn-only: the per-address cap at accept and the header deadline), so
it is measured, not shipped. One JSON line per run, then the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import msgspec

from exchange.config import ExchangeConfig, updated
from exchange.engine.ports import free_ports
from exchange.launch import service
from exchange.loadgen.processes import bench_config
from exchange.services import migrate

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("bench-admin", "bench-admin-secret-0123456789")

APP = """
import os, pathlib, msgspec
from exchange.config.model import validated
from exchange.gateway import create_app
from exchange.services import build_gateway
config = validated(msgspec.json.decode(pathlib.Path(os.environ["BENCH_CONFIG"]).read_bytes()))
app = create_app(build_gateway(config))
"""


def server_command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "bench_asgi_app:app", "--port", str(port),
                "--log-level", "warning", "--no-access-log", "--http", "httptools",
                "--loop", "uvloop"]  # fmt: skip
    if server == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--port", str(port),
                "--workers", "1", "--loop", "uvloop", "--log-level", "warning",
                "bench_asgi_app:app"]  # fmt: skip
    raise SystemExit(f"unknown server {server}")


def worker_pid(process: subprocess.Popen[bytes], server: str) -> int:
    """The process that runs the app: uvicorn's own; Granian's worker (its child)."""
    if server == "uvicorn":
        return process.pid
    for _ in range(100):
        path = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        children = path.read_text().split() if path.exists() else []
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("granian started no worker")


def run_once(server: str, config: ExchangeConfig, app_dir: Path, args: argparse.Namespace,
             out: Path) -> dict[str, object]:  # fmt: skip
    (port,) = free_ports(1)
    env = {
        **os.environ,
        "BENCH_CONFIG": str(out / "exchange.json"),
        "PYTHONPATH": os.pathsep.join([str(app_dir), os.environ.get("PYTHONPATH", "")]),
        "EXCHANGE_ADMIN_CLIENT_ID": ADMIN[0],
        "EXCHANGE_ADMIN_CLIENT_SECRET": ADMIN[1],
    }
    process = subprocess.Popen(server_command(server, port), env=env, cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pid = worker_pid(process, server)
        done = subprocess.run(
            [sys.executable, "-m", "exchange", "bench", "--gateway", base, "--gateway-pid",
             str(pid), "--rate", str(args.rate), "--seconds", str(args.seconds), "--users",
             str(args.users), "--admin-id", ADMIN[0], "--admin-secret", ADMIN[1],
             "--data-dir", str(out / f"users-{server}"), "--out", str(out / "runs"),
             "--no-progress", "--name", server],
            capture_output=True, text=True, check=False, cwd=ROOT,
        )  # fmt: skip
        last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
        result: dict[str, object] = json.loads(last)
        if done.returncode != 0:
            result["failed"] = done.stderr[-500:]
        return result
    finally:
        process.terminate()
        process.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument("--rate", type=float, default=1_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    servers = args.servers.split(",")
    with tempfile.TemporaryDirectory(prefix="exchange-asgi-") as tmp:
        out = Path(tmp)
        config = updated(bench_config(out / "data"), {"gateway.workers": 1})
        (out / "exchange.json").write_bytes(msgspec.json.encode(config))
        migrate(config)
        app_dir = out / "app"
        app_dir.mkdir()
        (app_dir / "bench_asgi_app.py").write_text(APP)
        engine = service("engine", config, quiet=True, cwd=ROOT).start().wait_ready()
        results: dict[str, list[dict[str, object]]] = {name: [] for name in servers}
        try:
            for _ in range(args.runs):
                for name in servers:
                    result = run_once(name, config, app_dir, args, out)
                    results[name].append(result)
                    print(json.dumps({"server": name, **result}), flush=True)
        finally:
            engine.stop()
    summary = {}
    for name, runs in results.items():
        cpu = [r["cpu_us_per_request"]["gateway"] for r in runs if "cpu_us_per_request" in r]  # type: ignore[index]
        p99 = [r["rtt_ms"]["p99"] for r in runs if "rtt_ms" in r]  # type: ignore[index]
        summary[name] = {
            "gateway_cpu_us_per_order": statistics.median(cpu) if cpu else None,
            "rtt_p99_ms": statistics.median(p99) if p99 else None,
            "runs": len(runs),
        }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
