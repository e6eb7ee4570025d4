"""Whether a run's outcome is exact: the engine's state equals a replay of its journal.

After the engine stopped, its journal is replayed from the start with
`verify` (every batch's events regenerated and compared byte for byte with
what the engine journaled and sent), and its newest snapshot (its live
state at that point, written by its forked child) plus the rest of the
journal must reach the same state hash. The trades the replay holds must be
the trades the generator saw in its replies (two fills each).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exchange.core import state_hash
from exchange.engine import rebuild


def verify(data_dir: Path, *, fills_seen: int | None = None) -> dict[str, Any]:
    """The checks, each named, and `exact`: all of them hold."""
    replayed = rebuild(data_dir, use_snapshot=False, verify=True)
    from_start = state_hash(replayed.core)
    restored = rebuild(data_dir)
    trades = replayed.core.next_trade_id - 1
    result: dict[str, Any] = {
        "commands_replayed": replayed.commands,
        "batches_replayed": replayed.batches,
        "events_regenerated_equal": not replayed.mismatched_batches,
        "mismatched_batches": replayed.mismatched_batches[:10],
        "snapshot_seq": restored.snapshot_seq,
        "state_hash": from_start,
        "snapshot_hash_equal": state_hash(restored.core) == from_start,
        "trades": trades,
    }
    checks = [result["events_regenerated_equal"], result["snapshot_hash_equal"]]
    if fills_seen is not None:
        result["trades_in_replies"] = fills_seen // 2
        checks.append(fills_seen == 2 * trades)
    result["exact"] = all(checks)
    return result
