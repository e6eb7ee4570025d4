"""The FIX gateway: market-order round trip over FIX 4.4 at several rates, open loop.

Starts `exchange engine` and `exchange fix` (fresh data directory), opens
`--sessions` funded accounts with FIX credentials and a maker account
resting deep asks, logs every session on, then for each `--rates` value
sends market buys (IOC, 1 share) for `--seconds` at that rate, spread over
the sessions, open loop (arrival times fixed in advance; latency from the
scheduled send). The round trip is the seed's: from the order leaving the
client to its fill's ExecutionReport arriving. Prints a table and one JSON
line per rate.

    python bench/fix.py --rates 250,500,1000,2000 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from exchange.accounts.store import AccountStore
from exchange.config import ExchangeConfig, updated
from exchange.core import Deposit, NewOrder, OrderType, Side, TimeInForce
from exchange.engine.client import EngineClient
from exchange.engine.curve import ClientKeys, KeyDirectory
from exchange.fix.codec import Framer, encode, parse
from exchange.launch import Fleet, on_free_ports, service
from exchange.services import migrate

ROOT = Path(__file__).resolve().parent.parent
REF = 5_430


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": at(1.0)}


class BenchSession:
    def __init__(self, comp_id: str, secret: str) -> None:
        self.comp_id = comp_id
        self.secret = secret
        self.seq = 1
        self.framer = Framer()
        self.sent: dict[str, float] = {}
        self.done: list[float] = []
        self.unfilled = 0

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.send("A", [(98, 0), (108, 30), (554, self.secret), (141, "Y")])
        self.reader_task = asyncio.ensure_future(self.read())

    def send(self, kind: str, body: list[tuple[int, str | int]]) -> None:
        self.writer.write(encode(kind, self.comp_id, "EXCHANGE", self.seq, body))
        self.seq += 1

    async def read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await self.reader.read(65536)
            if not data:
                return
            for frame in self.framer.feed(data):
                message = parse(frame)
                if message.msg_type != "8":
                    continue
                cl = message.get(11) or ""
                kind = message.get(150)
                if kind == "F" and cl in self.sent:
                    self.done.append((loop.time() - self.sent.pop(cl)) * 1000)
                elif kind == "4" and cl in self.sent:
                    self.sent.pop(cl)
                    self.unfilled += 1


async def run_rate(
    sessions: list[BenchSession], rate: float, seconds: float, tag: str
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    for s in sessions:
        s.done.clear()
    total = int(rate * seconds)
    begin = loop.time() + 0.2
    for n in range(total):
        due = begin + n / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        session = sessions[n % len(sessions)]
        cl = f"{tag}-{n}"
        session.sent[cl] = due
        session.send("D", [(11, cl), (55, "FOOLAD"), (54, "1"), (38, 1), (40, "1"), (59, "3"),
                           (60, "20260101-00:00:00")])  # fmt: skip
    deadline = loop.time() + 30
    while any(s.sent for s in sessions) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    elapsed = loop.time() - begin
    latencies = [v for s in sessions for v in s.done]
    return {
        "target_per_s": rate,
        "filled": len(latencies),
        "achieved_per_s": round(len(latencies) / elapsed, 1),
        "rtt_ms": percentiles(latencies),
        "unanswered": sum(len(s.sent) for s in sessions),
        "unfilled": sum(s.unfilled for s in sessions),
    }


async def setup(endpoint: str, keys: ClientKeys, accounts: int) -> None:
    client = EngineClient(endpoint, keys=keys, timeout=2.0)
    try:
        for account in range(1, accounts + 2):
            opened = await client.open_account(f"owner-{account}")
            assert opened == account, "a new engine gives account ids 1, 2, ... in order"
            await client.submit(
                Deposit(account=account, asset="IRR", amount=10**15, reference=f"c{account}")
            )
            await client.submit(
                Deposit(account=account, asset="FOOLAD", amount=10**9, reference=f"s{account}")
            )
        maker = accounts + 1
        for n in range(40):
            await client.submit(
                NewOrder(
                    account=maker,
                    client_order_id=f"ask-{n}",
                    symbol="FOOLAD",
                    side=Side.SELL,
                    order_type=OrderType.LIMIT,
                    time_in_force=TimeInForce.GTC,
                    price=REF + n % 5,
                    quantity=500_000,
                )
            )
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="250,500,1000,2000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        config = updated(on_free_ports(ExchangeConfig(), data), {"engine.calendar": "always-open"})
        migrate(config)
        store = AccountStore(f"sqlite:///{data / 'accounts.db'}")
        creds = [
            store.create_credential(frozenset({"trade"}), (a,)) for a in range(1, args.sessions + 1)
        ]
        store.engine.dispose()
        port = config.fix.port
        fleet = Fleet()
        try:
            fleet.start(service("engine", config, quiet=True, cwd=ROOT))
            fleet.start(service("fix", config, quiet=True, cwd=ROOT))
            admin = KeyDirectory(config.keys_dir).client("admin")
            asyncio.run(setup(config.engine.endpoint, admin, args.sessions))

            async def bench() -> None:
                sessions = [BenchSession(c, s) for c, s in creds]
                for s in sessions:
                    await s.connect(port)
                await asyncio.sleep(1.5)  # logons (Argon2 each)
                columns = ("target/s", "filled/s", "p50 ms", "p99", "p99.9", "max")
                print(" ".join(f"{c:>9}" for c in columns))
                for i, rate in enumerate(float(r) for r in args.rates.split(",")):
                    row = await run_rate(sessions, rate, args.seconds, f"r{i}")
                    rtt = row["rtt_ms"]
                    assert isinstance(rtt, dict)
                    cells = [rate, row["achieved_per_s"]]
                    cells += [rtt.get(k, 0) for k in ("p50", "p99", "p999", "max")]
                    print(" ".join(f"{c:>9}" for c in cells))
                    print(json.dumps(row), flush=True)

            asyncio.run(bench())
        finally:
            fleet.stop()


if __name__ == "__main__":
    main()
