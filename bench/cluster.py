"""The engine cluster: the cost of quorum replication, and takeover after SIGKILL of the leader.

`cost`: the same closed-loop order flow (EngineClient over ZeroMQ, `--senders`
concurrent, each one request in flight) into one engine with its local
journal, then into a 3-node cluster on a 3-member etcd (every batch
committed on an etcd quorum before it is answered), on plain etcd
(`quorum`) and on etcd with TLS and RBAC (`secure`, the default since
review C2); throughput and round trip for each, in one run, so the ratios
compare like with like. The log is signed in both cluster modes.

`append`: serial fenced appends straight to a 3-member etcd, plain, with
TLS only and with TLS+RBAC, each with the unsigned entry of before C2 and
the signed one of now (alternating, so both see the same moment), and the
HMAC alone.

`kills`: a cluster behind `exchange gateway`; orders flow through the REST
API from `--senders` clients while the leading engine is SIGKILLed
`--kills` times (each victim restarts as a follower). Takeover is the time
from the kill to the answer of the first request sent after it, as a
client sees it. At the end every acknowledged order must be in every
node's journal exactly once with the id it was given, and the journals
must be identical: `lost` counts the ones that are not.

    python bench/cluster.py cost --orders 4000 --senders 1,16,64 --runs 3
    python bench/cluster.py append --appends 2000
    python bench/cluster.py kills --kills 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from exchange.accounts import with_check_digit
from exchange.cluster.etcd import Compare, Op
from exchange.cluster.lease import LeaderInfo, LeaderLease
from exchange.cluster.local_etcd import LocalEtcd
from exchange.cluster.log import Entry, ReplicatedLog, encode, sign
from exchange.config import ExchangeConfig, updated
from exchange.core import Deposit, NewOrder, OrderType, Side, TimeInForce
from exchange.engine import rebuild
from exchange.engine.client import EngineClient
from exchange.engine.curve import ClientKeys, KeyDirectory
from exchange.journal import JournalReader
from exchange.launch import Service, on_free_ports, service
from exchange.launch.cluster import LocalCluster
from exchange.services import migrate

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("bench-admin", secrets.token_urlsafe(24))  # a throwaway exchange's admin


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3, 3)

    return {"p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": at(1.0)}


def order(n: int, tag: str) -> NewOrder:
    side = Side.BUY if n % 2 else Side.SELL
    price = 5_200 + n % 50 if side is Side.BUY else 5_460 + n % 50
    account = 1 if side is Side.BUY else 2
    return NewOrder(
        account=account,
        client_order_id=f"{tag}{n}",
        symbol="FOOLAD",
        side=side,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=price,
        quantity=1,
    )


async def flow(
    endpoints: str, keys: ClientKeys, orders: int, senders: int, tag: str
) -> dict[str, object]:
    client = EngineClient(endpoints, keys=keys, timeout=2.0, deadline=60)
    try:
        for account in (1, 2):
            opened = await client.open_account(f"owner-{account}")
            assert opened == account, "a new engine gives account ids 1, 2, ... in order"
            await client.submit(
                Deposit(
                    account=account, asset="IRR", amount=10**15, reference=f"{tag}cash{account}"
                )
            )
            await client.submit(
                Deposit(
                    account=account, asset="FOOLAD", amount=10**9, reference=f"{tag}sh{account}"
                )
            )
        numbers = iter(range(orders))
        latencies: list[float] = []

        async def sender() -> None:
            for n in numbers:
                started = time.perf_counter()
                await client.submit(order(n, tag))
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        elapsed = time.perf_counter() - started
    finally:
        await client.close()
    return {"orders_per_s": round(orders / elapsed), "rtt_ms": percentiles(latencies)}


def single_engine(root: Path) -> tuple[Service, ExchangeConfig]:
    config = updated(on_free_ports(ExchangeConfig(), root), {"engine.calendar": "always-open"})
    return service("engine", config, quiet=True, cwd=ROOT).start().wait_ready(), config


def cost(args: argparse.Namespace) -> None:
    senders_list = [int(s) for s in args.senders.split(",")]
    modes = args.modes.split(",")
    results: dict[str, dict[int, list[dict[str, object]]]] = {mode: {} for mode in modes}
    for run in range(args.runs):
        for mode in modes:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                if mode == "local":
                    stop, config = single_engine(root / "engine")
                    cluster = None
                    endpoint, keys_dir = config.engine.endpoint, config.keys_dir
                else:
                    cluster = LocalCluster(root / "cluster", secure=mode == "secure").start()
                    cluster.leader()
                    endpoint, keys_dir = cluster.endpoints, cluster.keys_dir
                keys = KeyDirectory(keys_dir).client("admin")
                try:
                    for senders in senders_list:
                        tag = f"r{run}s{senders}x"
                        measured = asyncio.run(flow(endpoint, keys, args.orders, senders, tag))
                        results[mode].setdefault(senders, []).append(measured)
                        print(json.dumps({"mode": mode, "senders": senders, "run": run,
                                          **measured}), flush=True)  # fmt: skip
                finally:
                    if cluster is not None:
                        cluster.stop()
                    else:
                        stop.stop()
    print("\nmedians of", args.runs, "runs")
    print(f"{'senders':>8} {'mode':>7} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9':>8}")
    for senders in senders_list:
        for mode in modes:
            runs = results[mode][senders]

            def median(key: str, runs: list[dict[str, object]] = runs) -> float:
                values = [r["rtt_ms"][key] for r in runs]  # type: ignore[index]
                return float(statistics.median(values))

            rate = statistics.median(int(r["orders_per_s"]) for r in runs)  # type: ignore[call-overload]
            print(f"{senders:>8} {mode:>7} {rate:>9.0f} {median('p50'):>8.2f} "
                  f"{median('p99'):>8.2f} {median('p999'):>8.2f}")  # fmt: skip


def unsigned_append(log: ReplicatedLog, epoch: int, seq: int, payload: bytes) -> None:
    """The append of before review C2: the same fenced transaction, the entry without a MAC."""
    key = log.key(seq)
    result = log.etcd.txn(
        [Compare.created_at(log.leader_key, epoch), Compare.absent(key)],
        [Op.put(key, encode(Entry(epoch, seq, 1, payload)))],
        [Op.get(key)],
    )
    assert result.succeeded


def append_latency(mode: str, appends: int, payload: bytes) -> dict[str, list[float]]:
    prefix = b"/exchange/"
    secure, rbac = mode != "plain", mode == "tls+rbac"
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalEtcd(Path(tmp), secure=secure, rbac=rbac) as members,
    ):
        etcd = members.client("node0")
        for _ in range(600):
            try:
                etcd.put(prefix + b"probe", b"1")
                break
            except Exception:
                time.sleep(0.05)
        log = ReplicatedLog(etcd, prefix, key=secrets.token_bytes(32))
        info = LeaderInfo("node0", "tcp://e", "tcp://p")
        lease = LeaderLease(etcd, prefix + b"leader", info, ttl=5)
        won = lease.campaign()
        assert won is not None
        timings: dict[str, list[float]] = {"unsigned": [], "signed": []}
        for n in range(appends):
            began = time.perf_counter()
            unsigned_append(log, won.epoch, 2 * n + 1, payload)
            timings["unsigned"].append(time.perf_counter() - began)
            began = time.perf_counter()
            log.append(won.epoch, 2 * n + 2, 1, payload)
            timings["signed"].append(time.perf_counter() - began)
        lease.resign()
        etcd.close()
    return timings


def append(args: argparse.Namespace) -> None:
    payload = secrets.token_bytes(args.bytes)
    key = secrets.token_bytes(32)
    started = time.perf_counter()
    for _ in range(10_000):
        sign(key, 12_345, 67_890, 100, payload)
    mac_us = (time.perf_counter() - started) / 10_000 * 1e6
    print(json.dumps({"hmac_sha256_us": round(mac_us, 2), "bytes": args.bytes}), flush=True)
    for mode in ("plain", "tls", "tls+rbac"):
        for kind, values in append_latency(mode, args.appends, payload).items():
            print(json.dumps({"etcd": mode, "entry": kind, **percentiles(values)}), flush=True)


def start_gateway(root: Path, cluster: LocalCluster) -> tuple[Service, str]:
    config = updated(on_free_ports(ExchangeConfig(), root), {
        "engine.endpoint": cluster.endpoints, "engine.publish": cluster.publishers,
        "journal": str(cluster.nodes[0].data_dir / "journal"), "keys": str(cluster.keys_dir),
        "gateway.rate_per_ip": 1e9, "gateway.rate_per_client": 1e9,
        "gateway.orders_per_account": 1e9,
    })  # fmt: skip
    migrate(config)  # schemas before services
    admin = {"EXCHANGE_ADMIN_CLIENT_ID": ADMIN[0], "EXCHANGE_ADMIN_CLIENT_SECRET": ADMIN[1]}
    process = service("gateway", config, env=admin, quiet=True, cwd=ROOT).start()
    return process.wait_ready(seconds=60), f"http://127.0.0.1:{config.gateway.port}"


def trader(base: str) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=30) as http:

        def login(client_id: str, secret: str) -> dict[str, str]:
            form = {"grant_type": "client_credentials", "client_id": client_id,
                    "client_secret": secret}  # fmt: skip
            token = http.post("/v1/oauth/token", data=form).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

        admin = login(*ADMIN)
        application = {
            "fullName": "Cluster Bench", "nationalId": with_check_digit("812345678"),
            "dateOfBirth": "1980-01-01", "address": "Bench St", "email": "c@example.ir",
            "phone": "+989120000000",
        }  # fmt: skip
        created = http.post("/v1/accounts", json=application).json()
        issued = http.post(f"/v1/admin/kyc/{created['applicationId']}/approve", headers=admin)
        account = issued.json()
        http.post(f"/v1/admin/accounts/{account['accountId']}/deposits", headers=admin,
                  json={"asset": "IRR", "amount": 10**15, "reference": "cash"})  # fmt: skip
        return login(account["clientId"], account["clientSecret"])


def journal(data_dir: Path) -> bytes:
    return b"".join(r.payload for r in JournalReader(data_dir / "journal").read_all())


def kills(args: argparse.Namespace) -> None:
    takeovers: list[float] = []
    acknowledged: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cluster = LocalCluster(root / "cluster").start()
        cluster.leader()
        gateway, base = start_gateway(root / "gateway", cluster)
        try:
            headers = trader(base)

            async def run() -> None:
                numbers = iter(range(10**9))
                killed: list[float] = []
                stop = False
                async with httpx.AsyncClient(base_url=base, timeout=60) as client:

                    async def sender() -> None:
                        while not stop:
                            i = next(numbers)
                            body = {"symbol": "FOOLAD", "side": "buy", "type": "limit",
                                    "quantity": 1, "price": 5_200 + i % 200,
                                    "timeInForce": "day", "clientOrderId": f"k{i}"}  # fmt: skip
                            sent = time.monotonic()
                            response = await client.post("/v1/order", json=body, headers=headers)
                            response.raise_for_status()
                            acknowledged[f"k{i}"] = response.json()["id"]
                            if killed and sent > killed[-1] and len(takeovers) < len(killed):
                                takeovers.append(time.monotonic() - killed[-1])

                    tasks = [asyncio.create_task(sender()) for _ in range(args.senders)]
                    for n in range(args.kills):
                        await asyncio.sleep(args.between)
                        while len(takeovers) < len(killed):
                            await asyncio.sleep(0.01)
                        victim = cluster.leader()
                        cluster.kill(victim)
                        killed.append(time.monotonic())
                        while cluster.leader() is victim:
                            await asyncio.sleep(0.01)
                        cluster.start_node(victim)
                        print(f"kill {n + 1}: {len(acknowledged)} acknowledged", flush=True)
                    while len(takeovers) < len(killed):
                        await asyncio.sleep(0.01)
                    stop = True
                    await asyncio.gather(*tasks)

            asyncio.run(run())
            time.sleep(3)  # the last restarted node catches up
        finally:
            gateway.stop()
            cluster.stop()
        journals = [journal(node.data_dir) for node in cluster.nodes]
        replay = rebuild(cluster.nodes[0].data_dir)
        ids: dict[str, list[int]] = {}
        for o in replay.core.orders.values():
            ids.setdefault(o.client_order_id, []).append(o.id)
        lost = sum(1 for coid, oid in acknowledged.items() if ids.get(coid) != [oid])
    summary = {
        "kills": args.kills,
        "acknowledged": len(acknowledged),
        "lost": lost,
        "journals_identical": all(j == journals[0] for j in journals),
        "takeover_s": {
            "p50": round(statistics.median(takeovers), 3),
            "max": round(max(takeovers), 3),
            "min": round(min(takeovers), 3),
        },
    }
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cost")
    c.add_argument("--orders", type=int, default=4_000)
    c.add_argument("--senders", default="1,16,64")
    c.add_argument("--runs", type=int, default=3)
    c.add_argument("--modes", default="local,quorum,secure")
    a = sub.add_parser("append")
    a.add_argument("--appends", type=int, default=2_000)
    a.add_argument("--bytes", type=int, default=2_000, help="journal record size")
    k = sub.add_parser("kills")
    k.add_argument("--kills", type=int, default=100)
    k.add_argument("--senders", type=int, default=8)
    k.add_argument("--between", type=float, default=0.5, help="seconds of load between kills")
    args = parser.parse_args()
    {"cost": cost, "append": append, "kills": kills}[args.what](args)


if __name__ == "__main__":
    main()
