"""Takeover by the warm standby: SIGKILL the primary again and again under load.

Starts `exchange engine`, then per cycle a fresh `exchange standby`, sends
orders from `--senders` concurrent clients, SIGKILLs whichever process is
the engine, and records the takeover time: from the kill to the answer of
the first request sent after it (the client resends after 0.2 s, so that is
included, as a client sees it). At the end the journal is replayed and every
acknowledged order must be there exactly once, with the id it was given.

    python bench/standby.py --cycles 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import time
from pathlib import Path

from exchange.config import ExchangeConfig, updated
from exchange.core import Deposit, NewOrder, OrderType, Side, TimeInForce
from exchange.core.events import DuplicateOrder, OrderAccepted
from exchange.engine import rebuild
from exchange.engine.client import EngineClient
from exchange.engine.curve import KeyDirectory
from exchange.launch import Service, on_free_ports, service

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--orders", type=int, default=600, help="orders per cycle")
    parser.add_argument("--senders", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        config = updated(on_free_ports(ExchangeConfig(), data), {"engine.calendar": "always-open"})
        engine = service("engine", config, quiet=True, cwd=ROOT).start()
        current = engine
        started: list[Service] = [engine]
        takeovers: list[float] = []
        acknowledged: dict[str, int] = {}

        async def run() -> None:
            nonlocal current
            admin = KeyDirectory(config.keys_dir).client("admin")
            client = EngineClient(config.engine.endpoint, keys=admin, timeout=0.2, deadline=60)
            try:
                for account in (1, 2):
                    opened = await client.open_account(f"owner-{account}")
                    assert opened == account, "a new engine gives account ids 1, 2, ... in order"
                    await client.submit(
                        Deposit(
                            account=account, asset="IRR", amount=10**15, reference=f"c{account}"
                        )
                    )
                for cycle in range(args.cycles):
                    standby = service("standby", config, quiet=True, cwd=ROOT).start()
                    started.append(standby)
                    await asyncio.sleep(1.0)
                    base = cycle * args.orders
                    queue = iter(range(base, base + args.orders))
                    state: dict[str, float] = {}

                    async def sender() -> None:
                        for i in queue:  # noqa: B023
                            sent_at = time.monotonic()
                            order = NewOrder(
                                account=2,
                                client_order_id=f"o{i}",
                                symbol="FOOLAD",
                                side=Side.BUY,
                                order_type=OrderType.LIMIT,
                                time_in_force=TimeInForce.GTC,
                                price=5_200 + i % 50,
                                quantity=1,
                            )
                            reply = await client.submit(order)
                            kill = state.get("killed")  # noqa: B023
                            if kill is not None and sent_at > kill and "first" not in state:  # noqa: B023
                                state["first"] = time.monotonic() - kill  # noqa: B023
                            for event in reply.events:
                                if isinstance(event, OrderAccepted | DuplicateOrder):
                                    acknowledged[event.client_order_id] = event.order_id

                    senders = [asyncio.create_task(sender()) for _ in range(args.senders)]
                    while len(acknowledged) < base + args.orders // 3:
                        await asyncio.sleep(0.002)
                    current.signal(signal.SIGKILL)
                    state["killed"] = time.monotonic()
                    current.wait(20)
                    current = standby
                    await asyncio.gather(*senders)
                    takeovers.append(state.get("first", float("nan")))
                    print(f"cycle {cycle + 1}: takeover {takeovers[-1] * 1000:.0f} ms", flush=True)
            finally:
                await client.close()

        try:
            asyncio.run(run())
        finally:
            for process in reversed(started):
                process.stop()
        replay = rebuild(data)
        ids = {o.client_order_id: o.id for o in replay.core.orders.values() if o.account == 2}
        lost = sum(1 for c, i in acknowledged.items() if ids.get(c) != i)
        ordered = sorted(takeovers)
        result = {
            "cycles": args.cycles,
            "acknowledged": len(acknowledged),
            "lost_acknowledged": lost,
            "takeover_ms_p50": round(ordered[len(ordered) // 2] * 1000, 1),
            "takeover_ms_max": round(ordered[-1] * 1000, 1),
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
