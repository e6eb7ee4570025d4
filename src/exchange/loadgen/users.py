"""The simulated population, opened the way a customer gets an account: through the API.

Each user applies (POST /v1/accounts, filed with the admin's compliance token
as an officer files for customers, so the per-address application limit of
the public path does not apply: 200 users took 17 minutes at 0.2/s), is approved by the admin (POST
/v1/admin/kyc/{id}/approve, which returns its own credential), is funded by
admin deposits of cash and of the shares it trades, and logs on with
POST /v1/oauth/token. Token requests are rate-limited per address on the
gateway, so they run concurrently and the population is cached
(credentials and unexpired tokens, owner-only file) and reused by the next
run against the same exchange. Makers are users too: they rest liquidity on
both sides of every symbol before the load starts, so market orders fill.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from exchange.accounts import with_check_digit
from exchange.loadgen.plan import MakerOrder, Symbol, holdings

CASH = 10**13
SHARES_HELD = 500_000
"""Shares of each held symbol per user: far more than a run sells."""
MAKER_SHARES = 900_000
TOKEN_MARGIN = 300.0
"""A cached token is reused only if it is valid this many seconds more."""
HOLDINGS = 5


@dataclass
class User:
    account_id: int
    client_id: str
    client_secret: str
    token: str = ""
    expires_at: float = 0.0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Population:
    users: list[User]
    makers: list[User]


class ApiError(RuntimeError):
    def __init__(self, status: int, body: Any, what: str) -> None:
        super().__init__(f"{what}: HTTP {status}: {str(body)[:300]}")
        self.status = status
        self.body = body


class Api:
    """JSON over aiohttp that waits out 429 and 503 (Retry-After), as a polite client must."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        form: dict[str, str] | None = None,
        retry_500: bool = False,
        retry_connection: bool = False,
    ) -> tuple[int, Any]:
        """`retry_500`: also wait out a 500 (for idempotent setup calls: SQLite on the gateway
        may answer "database is locked" when approvals queue behind each other).
        `retry_connection`: send again on a connection error (idempotent calls only: a pooled
        keep-alive connection the gateway closed while the generator was busy elsewhere)."""
        data = msgspec.json.encode(body) if body is not None else None
        sent = dict(headers or {})
        if data is not None:
            sent["Content-Type"] = "application/json"
        status, payload = 0, None
        for _ in range(200):
            try:
                async with self.session.request(
                    method, path, headers=sent, data=data if form is None else form
                ) as response:
                    raw = await response.read()
                    status = response.status
                    retry_after = response.headers.get("Retry-After", "1")
            except aiohttp.ClientConnectionError:
                if not retry_connection:
                    raise
                await asyncio.sleep(0.05)
                continue
            if status in (429, 503) or (retry_500 and status == 500):
                wait = float(retry_after or 1)
                await asyncio.sleep(min(max(wait, 0.05), 5.0) * random.uniform(0.5, 1.0))
                continue
            try:
                payload = msgspec.json.decode(raw) if raw else None
            except msgspec.DecodeError:
                payload = raw.decode("utf-8", "replace")  # not JSON: kept for the message
            return status, payload
        return status, payload

    async def token(self, client_id: str, secret: str) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", "client_id": client_id,
                "client_secret": secret}  # fmt: skip
        status, body = await self.call("POST", "/v1/oauth/token", form=form, retry_connection=True)
        if status != 200:
            raise ApiError(status, body, f"token for {client_id}")
        return str(body["access_token"]), time.time() + float(body["expires_in"])


def admin_credential(
    client_id: str | None, secret: str | None, data_dir: Path | None
) -> tuple[str, str]:
    """--admin-id/--admin-secret, else $EXCHANGE_ADMIN_CLIENT_ID/SECRET, else the demo's file."""
    if client_id and secret:
        return client_id, secret
    env_id = os.environ.get("EXCHANGE_ADMIN_CLIENT_ID")
    env_secret = os.environ.get("EXCHANGE_ADMIN_CLIENT_SECRET")
    if env_id and env_secret:
        return env_id, env_secret
    path = (data_dir or Path(os.environ.get("EXCHANGE_DATA_DIR", "var"))) / "demo-credentials.json"
    if path.exists():
        for entry in json.loads(path.read_text()):
            if "admin" in entry.get("scopes", []):
                return str(entry["clientId"]), str(entry["clientSecret"])
    raise ValueError(
        f"no admin credential: give --admin-id/--admin-secret, set EXCHANGE_ADMIN_CLIENT_ID/"
        f"SECRET, or run the demo (it writes {path})"
    )


def funding_of(index: int, symbols: Sequence[Symbol], maker: bool) -> list[tuple[str, int]]:
    """What one member is given: cash, and the shares it sells (a maker: every symbol)."""
    if maker:
        return [("IRR", CASH), *((s.symbol, MAKER_SHARES) for s in symbols)]
    return [("IRR", CASH), *((s.symbol, SHARES_HELD) for s in holdings(index, symbols, HOLDINGS))]


async def _bounded(count: int, concurrency: int, job: Callable[[int], Awaitable[None]]) -> None:
    """Run job(0..count-1) with at most `concurrency` at once."""
    queue = iter(range(count))

    async def worker() -> None:
        for index in queue:
            await job(index)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))


async def open_via_api(
    api: Api, admin: dict[str, str], label: str, funding: list[tuple[str, int]]
) -> User:
    """Application -> approval (a credential) -> deposits; a fresh identity each time."""
    while True:
        number = random.randrange(100_000_000, 999_999_999)
        application = {
            "fullName": f"Bench {label}", "nationalId": with_check_digit(f"{number:09d}"),
            "dateOfBirth": "1984-04-04", "address": "1 Load Street, Tehran",
            "email": f"bench{number}@example.ir", "phone": "+989120000000",
        }  # fmt: skip
        status, created = await api.call(  # filed by the officer: no per-address limit
            "POST", "/v1/accounts", headers=admin, body=application, retry_500=True
        )
        if status not in (200, 201):
            raise ApiError(status, created, "application")
        if created["status"] != "pending_review":
            continue  # screened out: another identity
        status, issued = await api.call(
            "POST", f"/v1/admin/kyc/{created['applicationId']}/approve", headers=admin,
            retry_500=True,
        )  # fmt: skip
        if status == 200:
            break
        if status != 409:  # 409: the identity has an account already: another one
            raise ApiError(status, issued, "approval")
    user = User(int(issued["accountId"]), str(issued["clientId"]), str(issued["clientSecret"]))
    await deposit(api, admin, user.account_id, funding)
    return user


async def deposit(
    api: Api, admin: dict[str, str], account: int, funding: list[tuple[str, int]]
) -> None:
    """Admin deposits with fixed references: a rerun changes nothing (409 is fine)."""
    for asset, amount in funding:
        body = {"asset": asset, "amount": amount, "reference": f"bench-{account}-{asset}"}
        status, answer = await api.call(
            "POST", f"/v1/admin/accounts/{account}/deposits", headers=admin, body=body,
            retry_500=True,
        )  # fmt: skip
        if status not in (200, 409):
            raise ApiError(status, answer, f"deposit to {account}")


Opener = Callable[[int, bool], Awaitable[User]]
"""(index, is_maker) -> a funded member."""


def load_cache(path: Path, key: str) -> Population | None:
    if not path.exists():
        return None
    try:
        entry = json.loads(path.read_text()).get(key)
    except (ValueError, OSError):
        return None
    if not entry:
        return None
    return Population(
        [User(**u) for u in entry.get("users", [])], [User(**u) for u in entry.get("makers", [])]
    )


def save_cache(path: Path, key: str, population: Population) -> None:
    """Owner-only: the file holds client secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        everything = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        everything = {}
    everything[key] = {
        "users": [asdict(u) for u in population.users],
        "makers": [asdict(u) for u in population.makers],
    }
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(everything, f)
    os.replace(temporary, path)


async def login_all(api: Api, members: list[User], concurrency: int) -> None:
    """A token for everyone whose cached token runs out soon (rate-limited per address)."""
    now = time.time()
    stale = [m for m in members if not m.token or m.expires_at - now < TOKEN_MARGIN]

    async def one(index: int) -> None:
        member = stale[index]
        member.token, member.expires_at = await api.token(member.client_id, member.client_secret)

    await _bounded(len(stale), concurrency, one)


async def ensure_population(
    api: Api,
    opener: Opener,
    *,
    users: int,
    makers: int,
    cache: Path | None,
    key: str,
    concurrency: int,
    progress: Callable[[str], None] = lambda _: None,
) -> Population:
    """Reuse the cached population if the exchange still knows it; open whoever is missing."""
    population = load_cache(cache, key) if cache is not None else None
    if population is not None and (population.users or population.makers):
        probe = (population.users or population.makers)[0]
        try:
            await api.token(probe.client_id, probe.client_secret)
        except ApiError:
            progress("the cached users are unknown to this exchange: opening new ones")
            population = None
    if population is None:
        population = Population([], [])
    missing_makers = makers - len(population.makers)
    missing_users = users - len(population.users)
    if missing_makers > 0 or missing_users > 0:
        progress(f"opening {max(missing_users, 0)} users and {max(missing_makers, 0)} makers")
    first_maker, first_user = len(population.makers), len(population.users)
    new_makers: list[User | None] = [None] * max(missing_makers, 0)
    new_users: list[User | None] = [None] * max(missing_users, 0)

    total, opened = len(new_makers) + len(new_users), 0

    def count() -> None:
        nonlocal opened
        opened += 1
        if opened == total or opened % max(1, total // 10) == 0:
            progress(f"opened {opened} of {total}")

    async def open_maker(i: int) -> None:
        new_makers[i] = await opener(first_maker + i, True)
        count()

    async def open_user(i: int) -> None:
        new_users[i] = await opener(first_user + i, False)
        count()

    try:
        await _bounded(len(new_makers), concurrency, open_maker)
        await _bounded(len(new_users), concurrency, open_user)
    finally:  # keep whatever was opened, even if a later one failed
        population.makers += [m for m in new_makers if m is not None]
        population.users += [u for u in new_users if u is not None]
        if cache is not None:
            save_cache(cache, key, population)
    chosen = Population(population.users[:users], population.makers[:makers])
    progress(f"logging {len(chosen.users) + len(chosen.makers)} members on")
    await login_all(api, chosen.users + chosen.makers, concurrency)
    if cache is not None:
        save_cache(cache, key, population)
    return chosen


async def rest_liquidity(
    api: Api, makers: list[User], orders: Sequence[MakerOrder], tag: str, concurrency: int
) -> list[tuple[User, int]]:
    """The makers' resting orders (GTC); returns (maker, order id) to cancel at the end."""
    placed: list[tuple[User, int]] = []

    async def one(index: int) -> None:
        order = orders[index]
        maker = makers[order.maker]
        body = {"symbol": order.symbol, "side": order.side, "type": "limit",
                "price": order.price, "quantity": order.quantity, "timeInForce": "gtc",
                "clientOrderId": f"{tag}-m{index}"}  # fmt: skip
        status, answer = await api.call("POST", "/v1/order", headers=maker.headers, body=body)
        if status != 200 or answer["status"] == "rejected":
            raise ApiError(status, answer, f"maker order {order}")
        placed.append((maker, int(answer["id"])))

    await _bounded(len(orders), concurrency, one)
    return placed


async def withdraw_liquidity(api: Api, placed: list[tuple[User, int]], concurrency: int) -> None:
    """Cancel the makers' orders, so reruns on one exchange do not pile them up."""

    async def one(index: int) -> None:
        maker, order_id = placed[index]
        await api.call("DELETE", f"/v1/order/{order_id}", headers=maker.headers)

    await _bounded(len(placed), concurrency, one)
