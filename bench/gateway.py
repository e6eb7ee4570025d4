"""The REST gateway under open-loop load: POST /v1/order latency and throughput.

Starts `exchange engine` and `exchange gateway` (fresh data directory, rate
limits raised out of the way), opens funded accounts through the API, has a
maker account rest deep asks, then for each `--rates` value sends orders
for `--seconds` at that rate, open loop: arrival times are fixed in advance
and latency is measured from the scheduled arrival, so a slow server cannot
slow the load down and hide its own queueing. Half of the orders are
passive limit buys (below the asks: they rest), half are market buys that
fill against the maker's asks: their latency is the seed's round trip, from
the order entering to its fill returning in the response.

The load generator runs in `--workers` processes beside the engine and the
gateway on the same machine (2 cores here), so the figures are for the
whole box. Prints a table and one JSON line per rate; writes
bench/out/gateway.json.

    python bench/gateway.py --rates 250,500,1000,2000 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from exchange.accounts import with_check_digit
from exchange.launch import Fleet, service
from exchange.loadgen.processes import bench_config
from exchange.services import migrate

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("bench-admin", secrets.token_urlsafe(24))  # a throwaway exchange's admin
REF = 5_430
SYMBOL = "FOOLAD"


def percentiles(values_ms: list[float]) -> dict[str, float]:
    values = sorted(values_ms)
    if not values:
        return {}

    def at(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 3)

    return {"p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": at(1.0)}


def start(data: Path) -> tuple[Fleet, str]:
    config = bench_config(data)  # exchange bench --spawn's: no per-address limits
    migrate(config)  # schemas before services
    admin = {"EXCHANGE_ADMIN_CLIENT_ID": ADMIN[0], "EXCHANGE_ADMIN_CLIENT_SECRET": ADMIN[1]}
    fleet = Fleet()
    fleet.start(service("engine", config, quiet=True, cwd=ROOT))
    fleet.start(service("gateway", config, env=admin, quiet=True, cwd=ROOT))
    return fleet, f"http://127.0.0.1:{config.gateway.port}"


def setup(base: str, traders: int) -> list[str]:
    """Funded accounts through the API; returns bearer tokens (the first is the maker)."""
    tokens = []
    with httpx.Client(base_url=base, timeout=30) as http:

        def login(client_id: str, secret: str) -> str:
            form = {"grant_type": "client_credentials", "client_id": client_id,
                    "client_secret": secret}  # fmt: skip
            return str(http.post("/v1/oauth/token", data=form).json()["access_token"])

        admin = {"Authorization": f"Bearer {login(*ADMIN)}"}
        for n in range(traders + 1):
            application = {
                "fullName": f"Bench Trader {n}",
                "nationalId": with_check_digit(f"{800_000_000 + n:09d}"),
                "dateOfBirth": "1980-01-01", "address": "Bench St", "email": f"b{n}@example.ir",
                "phone": "+989120000000",
            }  # fmt: skip
            created = http.post("/v1/accounts", json=application).json()
            issued = http.post(
                f"/v1/admin/kyc/{created['applicationId']}/approve", headers=admin
            ).json()
            for asset, amount in (("IRR", 10**15), (SYMBOL, 10**8)):
                http.post(
                    f"/v1/admin/accounts/{issued['accountId']}/deposits", headers=admin,
                    json={"asset": asset, "amount": amount, "reference": f"bench-{n}-{asset}"},
                )  # fmt: skip
            tokens.append(login(issued["clientId"], issued["clientSecret"]))
    return tokens


def replenish(base: str, maker: str, quantity: int) -> None:
    """Deep asks at the reference price, so every market buy fills."""
    headers = {"Authorization": f"Bearer {maker}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        while quantity > 0:
            chunk = min(quantity, 500_000)
            body = {"symbol": SYMBOL, "side": "sell", "type": "limit", "price": REF,
                    "quantity": chunk, "timeInForce": "gtc"}  # fmt: skip
            assert http.post("/v1/order", json=body, headers=headers).status_code == 200
            quantity -= chunk


async def _worker_load(
    base: str, tokens: list[str], rate: float, seconds: float, offset: int
) -> dict[str, Any]:
    results: dict[str, Any] = {"limit_ms": [], "market_ms": [], "errors": {}, "unfilled": 0}
    total = int(rate * seconds)
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(base, connector=connector) as client:
        loop = asyncio.get_running_loop()
        begin = loop.time() + 0.2
        headers = [{"Authorization": f"Bearer {t}"} for t in tokens]

        def count_error(kind: str) -> None:
            results["errors"][kind] = results["errors"].get(kind, 0) + 1

        async def one(n: int, due: float) -> None:
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            market = (n + offset) % 2 == 0
            body: dict[str, Any] = {"symbol": SYMBOL, "side": "buy", "quantity": 1}
            if market:
                body["type"] = "market"
            else:
                body |= {"type": "limit", "price": REF - 50 - n % 100, "timeInForce": "day"}
            try:
                async with client.post(
                    "/v1/order", json=body, headers=headers[n % len(headers)]
                ) as response:
                    payload = await response.read()
                    status = response.status
            except aiohttp.ClientError as error:
                count_error(type(error).__name__)
                return
            elapsed_ms = (loop.time() - due) * 1000
            if status != 200:
                count_error(str(status))
                return
            if market:
                if json.loads(payload)["status"] != "filled":
                    results["unfilled"] += 1
                results["market_ms"].append(elapsed_ms)
            else:
                results["limit_ms"].append(elapsed_ms)

        tasks = [asyncio.ensure_future(one(n, begin + n / rate)) for n in range(total)]
        started = time.perf_counter()
        await asyncio.gather(*tasks)
        results["elapsed"] = time.perf_counter() - started - 0.2
    return results


def _worker(args: tuple[str, list[str], float, float, int]) -> dict[str, Any]:
    return asyncio.run(_worker_load(*args))


def run_rate(
    base: str, tokens: list[str], rate: float, seconds: float, workers: int
) -> dict[str, Any]:
    replenish(base, tokens[0], int(rate * seconds))
    traders = tokens[1:]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(
            _worker,
            [
                (base, traders[w::workers] or traders, rate / workers, seconds, w)
                for w in range(workers)
            ],
        )
    limit_ms = [v for p in parts for v in p["limit_ms"]]
    market_ms = [v for p in parts for v in p["market_ms"]]
    errors: dict[str, int] = {}
    for p in parts:
        for key, count in p["errors"].items():
            errors[key] = errors.get(key, 0) + count
    elapsed = max(p["elapsed"] for p in parts)
    answered = len(limit_ms) + len(market_ms)
    return {
        "target_per_s": rate,
        "answered": answered,
        "achieved_per_s": round(answered / elapsed, 1),
        "post_order_ms": percentiles(limit_ms + market_ms),
        "market_round_trip_ms": percentiles(market_ms),
        "unfilled_market_orders": sum(p["unfilled"] for p in parts),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="250,500,1000,2000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--traders", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="load generator processes")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        processes, base = start(Path(tmp) / "data")
        try:
            tokens = setup(base, args.traders)
            rows = []
            print(f"{'target/s':>9} {'achieved/s':>10} {'POST p50':>9} {'p99':>8} {'p99.9':>8} "
                  f"{'market p50':>11} {'p99':>8} {'p99.9':>8}  errors")  # fmt: skip
            for rate in rates:
                row = run_rate(base, tokens, rate, args.seconds, args.workers)
                rows.append(row)
                post, market = row["post_order_ms"], row["market_round_trip_ms"]
                print(
                    f"{rate:>9.0f} {row['achieved_per_s']:>10.0f} {post.get('p50', 0):>9.2f} "
                    f"{post.get('p99', 0):>8.2f} {post.get('p999', 0):>8.2f} "
                    f"{market.get('p50', 0):>11.2f} {market.get('p99', 0):>8.2f} "
                    f"{market.get('p999', 0):>8.2f}  {row['errors'] or ''}",
                    flush=True,
                )
                print(json.dumps(row), flush=True)
        finally:
            processes.stop()
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "gateway.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
