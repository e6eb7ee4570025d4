"""Issue 8 across machines: SIGKILL the leading engine ten times under load, through the gateway."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from exchange.engine import rebuild
from exchange.engine.client import EngineClient
from exchange.engine.queries import AccountQuery, AccountState, answer
from exchange.launch.cluster import LocalCluster
from tests.cluster.conftest import require_etcd
from tests.cluster.load import check_state, converge
from tests.gateway.test_e2e import ADMIN, REF, GatewayProcess, login, new_trader


@dataclass
class ClusterEndpoints:
    """What GatewayProcess needs of an engine: the cluster's nodes, comma-separated."""

    endpoint: str
    publish: str
    data_dir: Path
    keys_dir: Path


def test_leader_sigkill_ten_times_through_the_gateway(tmp_path: Path) -> None:
    require_etcd()
    cluster = LocalCluster(tmp_path / "cluster").start()
    acknowledged: dict[str, int] = {}
    takeovers: list[float] = []
    engines = ClusterEndpoints(
        cluster.endpoints, cluster.publishers, cluster.nodes[0].data_dir, cluster.keys_dir
    )
    gateway = GatewayProcess(tmp_path / "gateway", engines)
    try:
        cluster.leader()
        gateway.start()
        with httpx.Client(base_url=gateway.base, timeout=15) as http:
            trader = new_trader(http, login(http, *ADMIN), 7, IRR=10**12)
        headers = trader["headers"]

        async def cycle(n: int) -> None:
            queue = iter(range(n * 200, n * 200 + 200))
            killed: list[float] = []
            async with httpx.AsyncClient(base_url=gateway.base, timeout=60) as client:

                async def sender() -> None:
                    for i in queue:
                        body = {"symbol": "FOOLAD", "side": "buy", "type": "limit", "quantity": 1,
                                "price": REF - 1 - i % 50, "timeInForce": "gtc",
                                "clientOrderId": f"c{i}"}  # fmt: skip
                        sent = time.monotonic()
                        response = await client.post("/v1/order", json=body, headers=headers)
                        assert response.status_code == 200, response.text
                        acknowledged[f"c{i}"] = response.json()["id"]
                        if killed and sent > killed[0] and len(takeovers) == n:
                            takeovers.append(time.monotonic() - killed[0])

                async def killer() -> None:
                    while len(acknowledged) < n * 200 + 60:
                        await asyncio.sleep(0.002)
                    victim = cluster.leader()
                    cluster.kill(victim)
                    killed.append(time.monotonic())
                    while cluster.leader() is victim:
                        await asyncio.sleep(0.01)
                    cluster.start_node(victim)  # back as a follower

                await asyncio.gather(killer(), *(sender() for _ in range(8)))

        for n in range(10):
            asyncio.run(cycle(n))

        async def view() -> dict[str, int]:
            """Each acknowledged order as the gateway's live view shows it (fed by every node)."""
            seen: dict[str, int] = {}
            async with httpx.AsyncClient(base_url=gateway.base, timeout=30) as client:

                async def look(coid: str, order_id: int) -> None:
                    response = await client.get(f"/v1/order/{order_id}", headers=headers)
                    if response.status_code == 200:
                        seen[response.json()["clientOrderId"]] = response.json()["id"]

                items = list(acknowledged.items())
                for start in range(0, len(items), 50):
                    await asyncio.gather(*(look(c, i) for c, i in items[start : start + 50]))
            return seen

        live = asyncio.run(view())
        converge(cluster)

        async def leader_state() -> AccountState | None:
            client = EngineClient(cluster.endpoints, keys=cluster.keys(), timeout=0.5, deadline=30)
            try:
                return await client.account(trader["accountId"])
            finally:
                await client.close()

        live_account = asyncio.run(leader_state())  # the running leader's own books
    finally:
        gateway.stop()
        cluster.stop()
    assert len(acknowledged) == 2_000
    assert live == acknowledged  # the view equals what the API acknowledged
    check_state([node.data_dir for node in cluster.nodes], acknowledged)
    replay = rebuild(cluster.nodes[0].data_dir, use_snapshot=False)
    assert live_account == answer(replay.core, AccountQuery(trader["accountId"]))
    assert len(takeovers) == 10 and all(t < 15 for t in takeovers), takeovers
