"""A node the replicated log left behind catches up from a peer's journal, not a manual copy.

The log keeps a window (`--log-window` commands behind the leader); a node
down for longer finds its next entry trimmed (`BehindWindowError`). Every
node's journal is a prefix of one history, byte for byte, so what it lacks
is a range of a peer's journal: it asks the peers' journal services (their
endpoints registered in etcd under `<prefix>nodes/<name>`) for the records
after its own last one, appends them to its journal, then follows the log
again from there.

Trust: a journal service answers only the exchange's CURVE keys and the
node pins the engine's server key, so the records come from a node of this
exchange, which applied each of them only after checking its entry's MAC
(review C2); they are taken only while they continue the journal by seq.
"""

import asyncio
import logging
from pathlib import Path

from exchange.cluster.etcd import Etcd, prefix_end
from exchange.engine.curve import ClientKeys
from exchange.engine.journal_service import JournalRangeClient, JournalUnavailableError
from exchange.engine.layout import DataDir
from exchange.journal import Durability, JournalWriter
from exchange.sequencer import decode_span

log = logging.getLogger(__name__)

NODES = b"nodes/"


class NoPeerError(RuntimeError):
    """No peer's journal service could give this node what it lacks."""


def register(etcd: Etcd, prefix: bytes, node: str, journal_service: str) -> None:
    """Tell the peers where this node serves its journal."""
    etcd.put(prefix + NODES + node.encode(), journal_service.encode())


def peers(etcd: Etcd, prefix: bytes, node: str) -> dict[str, str]:
    """The other nodes' journal services, by node name."""
    start = prefix + NODES
    found = etcd.range(start, prefix_end(start))
    named = {kv.key[len(start) :].decode(): kv.value.decode() for kv in found}
    return {name: endpoint for name, endpoint in named.items() if name != node and endpoint}


async def _copy(endpoint: str, keys: ClientKeys, writer: JournalWriter) -> int:
    """Append the peer's records after the writer's last one; how many commands that was."""
    client = JournalRangeClient(endpoint, keys=keys, timeout=5.0)
    copied = 0
    try:
        while True:
            records = await client.read(writer.next_seq, 1_000)
            if not records:
                return copied
            for payload in records:
                first_seq, count = decode_span(payload)
                if first_seq != writer.next_seq:
                    raise RuntimeError(f"record at seq {first_seq}, expected {writer.next_seq}")
                writer.append(first_seq, count, payload)
                copied += count
            writer.flush()
    finally:
        client.close()


def catch_up_from_peers(
    data_dir: Path,
    etcd: Etcd,
    prefix: bytes,
    node: str,
    keys: ClientKeys,
    durability: Durability,
) -> int:
    """Extend this node's journal from the first peer that has more; the commands copied."""
    writer = JournalWriter(DataDir(data_dir).journal, durability)
    start = writer.next_seq
    try:
        for name, endpoint in sorted(peers(etcd, prefix, node).items()):
            try:
                copied = asyncio.run(_copy(endpoint, keys, writer))
            except (JournalUnavailableError, RuntimeError) as error:
                log.warning("peer %s (%s): %s", name, endpoint, error)
                continue
            if copied:
                log.info("copied seq %d..%d from %s's journal", start, writer.next_seq - 1, name)
                return copied
        raise NoPeerError(f"no peer's journal continues this node's at seq {start}")
    finally:
        writer.close()
