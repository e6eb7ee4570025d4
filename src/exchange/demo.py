"""`exchange run`: the whole exchange on its embedded defaults, in demo mode.

Starts the engine process (data in ./var, the 100 listed symbols, the
calendar always open), the gateway (REST + WebSocket on 127.0.0.1:8080) and
the market-data server (the public page, REST and WebSocket on 127.0.0.1:8081)
the FIX 4.4 acceptor (127.0.0.1:9878), the reporter (into `<data dir>/reports.db`)
and a warm standby engine that takes over if the engine dies,
then sets up demo accounts the way a real customer would get one: an
application through the API, automated KYC, approval by the admin, deposits
of cash and of shares of every symbol. Their credentials, with the admin's,
go to `<data dir>/demo-credentials.json` (owner-only) and are printed. A
burst of demo orders through the REST API follows, then everything runs
until Ctrl-C. The next run finds the same accounts and continues.
"""

import asyncio
import json
import os
import random
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from exchange.accounts import with_check_digit
from exchange.config import ExchangeConfig, updated
from exchange.launch import Fleet, ServiceFailedError, service
from exchange.lifecycle import Stop
from exchange.refdata import load_instruments
from exchange.services import migrate

DEMO_ACCOUNTS = 5
ADMIN_CLIENT_ID = f"admin_{secrets.token_hex(8)}"  # random: a known admin id is half a login
CASH = 10**13
SHARES = 1_000_000


class Api:
    """A small REST client that honours 429/503 Retry-After (the demo must be a good citizen)."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=30)
        self.tokens: dict[str, dict[str, str]] = {}

    async def call(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        for _ in range(100):
            response = await self.http.request(method, path, headers=headers, **kw)
            if response.status_code not in (429, 503):
                return response
            await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 5))
        return response

    async def login(self, client_id: str, secret: str) -> dict[str, str]:
        response = await self.call(
            "POST",
            "/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def close(self) -> None:
        await self.http.aclose()


def _load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    loaded: list[dict[str, Any]] = json.loads(path.read_text())
    return loaded


def _save(path: Path, credentials: list[dict[str, Any]]) -> None:
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(credentials, f, indent=2)
    os.replace(temporary, path)


def admin_credential(saved: list[dict[str, Any]]) -> dict[str, Any]:
    """The admin from the environment, else the one this data dir's demo made, else a new one."""
    client_id = os.environ.get("EXCHANGE_ADMIN_CLIENT_ID")
    secret = os.environ.get("EXCHANGE_ADMIN_CLIENT_SECRET")
    if client_id and secret:
        return {"accountId": None, "clientId": client_id, "clientSecret": secret,
                "scopes": ["admin", "compliance"]}  # fmt: skip
    for entry in saved:
        if "admin" in entry["scopes"]:
            return entry
    secret = secrets.token_urlsafe(24)
    return {"accountId": None, "clientId": ADMIN_CLIENT_ID, "clientSecret": secret,
            "scopes": ["admin", "compliance"]}  # fmt: skip


async def _open_demo_account(api: Api, admin: dict[str, str], n: int) -> dict[str, Any] | None:
    """Apply, pass KYC, get approved; None if this identity was used before."""
    application = {
        "fullName": f"Demo Trader {n}",
        "nationalId": with_check_digit(f"{700_000_000 + n:09d}"),
        "dateOfBirth": "1985-01-01",
        "address": f"{n} Demo Street, Tehran",
        "email": f"demo{n}@example.ir",
        "phone": "+989120000000",
    }
    created = await api.call("POST", "/v1/accounts", json=application)
    created.raise_for_status()
    if created.json()["status"] != "pending_review":
        return None
    application_id = created.json()["applicationId"]
    approved = await api.call("POST", f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    if approved.status_code == 409:  # this identity has an account already (a lost file)
        return None
    approved.raise_for_status()
    issued = approved.json()
    return {**issued, "scopes": ["read", "trade"]}


async def _fund(api: Api, admin: dict[str, str], account: int) -> None:
    """Cash and shares of every symbol; fixed references make a rerun change nothing."""
    movements = [("IRR", CASH)] + [(i.symbol, SHARES) for i in load_instruments()]
    for asset, amount in movements:
        body = {"asset": asset, "amount": amount, "reference": f"demo-{asset}-{account}"}
        response = await api.call(
            "POST", f"/v1/admin/accounts/{account}/deposits", json=body, headers=admin
        )
        if response.status_code not in (200, 409):
            response.raise_for_status()


async def add_liquidity(api: Api, credentials: list[dict[str, Any]]) -> None:
    """Fresh resting asks and bids in FOOLAD, so the README's market order fills."""
    headers = await api.login(credentials[-1]["clientId"], credentials[-1]["clientSecret"])
    foolad = next(i for i in load_instruments() if i.symbol == "FOOLAD")
    for step in range(1, 6):
        for side, price in (("sell", foolad.reference_price + 10 * step),
                            ("buy", foolad.reference_price - 10 * step)):  # fmt: skip
            order = {"symbol": "FOOLAD", "side": side, "type": "limit", "price": price,
                     "quantity": 1_000, "timeInForce": "gtc"}  # fmt: skip
            response = await api.call("POST", "/v1/order", json=order, headers=headers)
            response.raise_for_status()


async def setup(
    api: Api, progress: Path, admin_entry: dict[str, Any], saved: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Open the demo accounts that are missing (progress kept in `progress`) and fund them all."""
    credentials = [e for e in saved if "trade" in e["scopes"]]
    admin = await api.login(admin_entry["clientId"], admin_entry["clientSecret"])
    n = len(credentials)
    while len(credentials) < DEMO_ACCOUNTS:
        n += 1
        opened = await _open_demo_account(api, admin, n)
        if opened is not None:
            credentials.append(opened)
            _save(progress, [admin_entry, *credentials])  # a secret is shown only once
    for entry in credentials:
        await _fund(api, admin, entry["accountId"])
    return credentials


def _random_order(rng: random.Random, n: int) -> dict[str, Any]:
    instrument = rng.choice(load_instruments())
    side = rng.choice(("buy", "sell"))
    quantity = rng.randint(1, 20) * 10 * instrument.lot_size
    order: dict[str, Any] = {"symbol": instrument.symbol, "side": side, "quantity": quantity}
    if rng.random() < 0.1:
        return {**order, "type": "market", "timeInForce": "ioc"}
    reference, tick = instrument.reference_price, instrument.tick_size
    offset = rng.randint(0, max(reference // 100 // tick, 1)) * tick  # within about 1 %
    aggressive = rng.random() < 0.3
    price = reference + offset if (side == "buy") == aggressive else reference - offset
    return {**order, "type": "limit", "price": max(price, tick), "timeInForce": "day"}


async def drive(
    api: Api, credentials: list[dict[str, Any]], orders: int, seed: int
) -> dict[str, int]:
    headers = [await api.login(c["clientId"], c["clientSecret"]) for c in credentials]
    counts = {"new": 0, "partially_filled": 0, "filled": 0, "canceled": 0, "rejected": 0}
    rng = random.Random(seed)  # the same seed, the same orders
    queue = iter(range(orders))

    async def sender() -> None:
        for n in queue:
            response = await api.call(
                "POST", "/v1/order", json=_random_order(rng, n), headers=rng.choice(headers)
            )
            response.raise_for_status()
            status = response.json()["status"]
            counts[status] = counts.get(status, 0) + 1

    await asyncio.gather(*(sender() for _ in range(8)))
    return counts


def _stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM both stop everything in order.

    SIGINT is set explicitly: a shell that starts a command in the
    background leaves it ignoring SIGINT, and then Ctrl-C (or a supervisor's
    SIGINT) would do nothing. Without a handler, SIGTERM would end this
    process alone and leave the engine and the services running.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def demo_config(config: ExchangeConfig) -> ExchangeConfig:
    """The demo's changes to a config: the market always open (unless the config names a
    calendar) and the gateway's per-address limit raised for the demo's own traffic."""
    changes: dict[str, object] = {"gateway.rate_per_ip": max(config.gateway.rate_per_ip, 5000.0)}
    if config.engine.calendar == "default":
        changes["engine.calendar"] = "always-open"
    return updated(config, changes)


def run_demo(config: ExchangeConfig, *, orders: int, seed: int, wait: bool = True) -> int:
    if not Stop.on_signals().running():
        return 0  # stopped before anything started
    _stop_on_signals()
    config = demo_config(config)
    root = config.root
    migrate(config)  # schemas before services: no two services race to create tables
    path = root / "demo-credentials.json"
    progress = root / "demo-credentials.partial.json"
    # The credentials file appears once, when its accounts are funded and the demo is done:
    # whoever waits for it can trade at once. Until then the progress file keeps new secrets.
    saved = _load(path) or _load(progress)
    if saved:
        _save(progress, saved)
    path.unlink(missing_ok=True)
    admin_entry = admin_credential(saved)
    admin_env = {
        "EXCHANGE_ADMIN_CLIENT_ID": admin_entry["clientId"],
        "EXCHANGE_ADMIN_CLIENT_SECRET": admin_entry["clientSecret"],
    }
    base = f"http://127.0.0.1:{config.gateway.port}"
    fleet = Fleet()
    broken = False
    try:
        fleet.start(service("engine", config))
        fleet.start(service("gateway", config, env=admin_env))
        fleet.start(service("marketdata", config))
        fleet.start(service("reporter", config, log=root / "reporter.log"))
        fleet.start(service("fix", config, log=root / "fix.log"))

        async def demo() -> tuple[list[dict[str, Any]], dict[str, int], float]:
            api = Api(base)
            try:
                credentials = await setup(api, progress, admin_entry, saved)
                await add_liquidity(api, credentials)
                started = time.perf_counter()
                counts = await drive(api, credentials, orders, seed)
                return credentials, counts, time.perf_counter() - started
            finally:
                await api.close()

        credentials, counts, elapsed = asyncio.run(demo())
        # The engine has answered, so it holds the role: now the standby can follow it
        # (started last, it is stopped first, or it would take over).
        fleet.start(service("standby", config, log=root / "standby.log"))
        _save(path, [admin_entry, *credentials])
        progress.unlink(missing_ok=True)
        _announce(config, path, credentials, counts, orders, elapsed)
        if wait:
            print("Ctrl-C stops it; the next `make run` continues from the same state.", flush=True)
            services = ("gateway", "marketdata", "reporter", "fix")
            engines = ("engine", "standby")  # one of the two is the engine
            while not fleet.exited(services) and len(fleet.exited(engines)) < len(engines):
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except ServiceFailedError as error:
        print(f"exchange run: {error}", file=sys.stderr, flush=True)
        broken = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one stop at a time: no second interrupt
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        failed = fleet.stop()
    for failure in failed:
        print(f"exchange run: {failure.name} exited with {failure.returncode}", file=sys.stderr)
    return 1 if failed or broken else 0


def _announce(
    config: ExchangeConfig,
    path: Path,
    credentials: list[dict[str, Any]],
    counts: dict[str, int],
    orders: int,
    elapsed: float,
) -> None:
    base = f"http://127.0.0.1:{config.gateway.port}"
    public = f"http://127.0.0.1:{config.marketdata.port}"
    print(f"demo credentials (client ids and secrets, owner-only): {path}", flush=True)
    for entry in credentials:
        print(f"  account {entry['accountId']}: clientId {entry['clientId']}", flush=True)
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    print(f"demo: {orders} orders through the REST API in {elapsed:.1f} s: {summary}", flush=True)
    print(
        f"exchange running: REST + WebSocket on {base} (API: {base}/openapi.json), "
        f"engine requests on {config.engine.endpoint}, batches on {config.engine.publish}, "
        f"data in {config.root}",
        flush=True,
    )
    print(f"market data: the public page at {public}/ (REST and WebSocket)", flush=True)
    print(f"reports: {config.reports_url} (history at {base}/v1/execution)", flush=True)
    print("a warm standby follows the engine's journal and takes over if it dies", flush=True)
    print(
        f"FIX 4.4 on 127.0.0.1:{config.fix.port}: SenderCompID = a clientId, TargetCompID = "
        "EXCHANGE, Password (554) = its clientSecret",
        flush=True,
    )
    print(f"ready: {base}/readyz and {public}/readyz answer 200, FIX accepts logons", flush=True)
