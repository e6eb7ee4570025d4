"""Steady order flow into an engine cluster, recording every acknowledgement."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

from exchange.core import NewOrder, OrderType, Side, TimeInForce, state_hash
from exchange.core.events import DuplicateOrder, OrderAccepted
from exchange.engine import rebuild
from exchange.engine.client import EngineClient
from exchange.journal import JournalReader
from exchange.launch.cluster import LocalCluster


def order(coid: str, n: int) -> NewOrder:
    side = Side.BUY if n % 2 else Side.SELL
    price = 5_200 + n % 50 if side is Side.BUY else 5_460 + n % 50
    account = 1 if side is Side.BUY else 2
    return NewOrder(
        account=account,
        client_order_id=coid,
        symbol="FOOLAD",
        side=side,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=price,
        quantity=1,
    )


@dataclass
class Load:
    client: EngineClient
    tag: str
    senders: int = 8
    acknowledged: dict[str, int] = field(default_factory=dict)
    """client order id -> order id, for every order the engine answered."""
    replied_at: list[float] = field(default_factory=list)
    _stop: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    async def _send(self) -> None:
        while not self._stop:
            n = next(self._numbers)
            coid = f"{self.tag}{n}"
            reply = await self.client.submit(order(coid, n))
            self.replied_at.append(time.monotonic())
            for event in reply.events:
                if type(event) in (OrderAccepted, DuplicateOrder):
                    self.acknowledged[event.client_order_id] = event.order_id

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._send()) for _ in range(self.senders)]

    async def stop(self) -> None:
        self._stop = True
        await asyncio.gather(*self._tasks)

    def answered_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first reply after it."""
        later = [t for t in self.replied_at if t > moment]
        return min(later) - moment if later else None


def journal_bytes(data_dir: Path) -> bytes:
    return b"".join(record.payload for record in JournalReader(data_dir / "journal").read_all())


def check_state(data_dirs: list[Path], acknowledged: dict[str, int]) -> None:
    """Every node holds the same journal and state, and each acknowledged order once."""
    journals = [journal_bytes(d) for d in data_dirs]
    assert all(j == journals[0] for j in journals), [len(j) for j in journals]
    replays = [rebuild(d, verify=True, use_snapshot=False) for d in data_dirs]
    assert all(r.mismatched_batches == [] for r in replays)
    assert len({state_hash(r.core) for r in replays}) == 1
    orders = replays[0].core.orders
    by_coid: dict[str, list[int]] = {}
    for o in orders.values():
        by_coid.setdefault(o.client_order_id, []).append(o.id)
    for coid, order_id in acknowledged.items():
        assert by_coid.get(coid) == [order_id], (coid, by_coid.get(coid), order_id)


def converge(cluster: LocalCluster, timeout: float = 30.0) -> None:
    """Wait until every node's journal equals the leader's."""
    leader = cluster.leader()
    deadline = time.monotonic() + timeout
    while True:
        target = journal_bytes(leader.data_dir)
        if all(journal_bytes(node.data_dir) == target for node in cluster.nodes):
            return
        assert time.monotonic() < deadline, "the nodes did not converge"
        time.sleep(0.2)
