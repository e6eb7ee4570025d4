"""`exchange standby`: a warm standby on the same machine, ready to take over in about a second.

It rebuilds the state from the newest snapshot and the journal, then tails
the primary's journal and applies every batch's commands with the batch's
timestamp, in lockstep: the core is deterministic, so its state is the
primary's. When it reaches a sequence number at which the primary has
written a snapshot, it compares its own state hash with the snapshot's
(opportunistic: a snapshot written after the standby moved on is skipped).

All the while it tries the role lock. The kernel frees the lock when the
primary dies; the standby then takes it (so there is never a second
writer), applies what is left in the journal, and becomes the engine: same
endpoints, sequencing continues where the journal ends. Gateways reconnect
by themselves and resend what was not answered; entry is idempotent, so a
command journaled just before the crash is answered, not doubled.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from exchange.core import state_hash
from exchange.engine.journaled import JournaledCore
from exchange.engine.layout import DataDir
from exchange.engine.recovery import Recovered, follow_batch, rebuild
from exchange.engine.role import RoleLock
from exchange.engine.server import EngineConfig, run_engine
from exchange.engine.snapshot_format import decode_snapshot
from exchange.journal import JournalReader, SnapshotStore
from exchange.lifecycle import Stop
from exchange.sequencer import decode_head

log = logging.getLogger(__name__)


@dataclass
class Standby:
    config: EngineConfig
    state: Recovered = field(init=False)
    checked_snapshots: list[int] = field(default_factory=list)
    """Snapshot points at which the standby's state hash equalled the primary's."""

    def __post_init__(self) -> None:
        self.data = DataDir(self.config.data_dir).create()
        self.state = rebuild(self.data.root)
        self.reader = JournalReader(self.data.journal, from_seq=self.state.last_seq + 1)
        self.snapshots = SnapshotStore(self.data.snapshots)
        self.role = RoleLock(self.data.root)

    def follow(self) -> int:
        """Apply what the journal has beyond our state; how many batches that was."""
        records = self.reader.poll(1_000)
        for record in records:
            follow_batch(self.state, decode_head(record.payload))
            self._check_snapshot(self.state.last_seq)
        return len(records)

    def _check_snapshot(self, seq: int) -> None:
        payload = self.snapshots.read(seq)
        if payload is None:
            return  # no snapshot at this point (or not written yet: the check is opportunistic)
        _, primary = decode_snapshot(payload)
        if state_hash(primary) != state_hash(self.state.core):
            raise RuntimeError(f"the standby's state differs from the primary's at seq {seq}")
        self.checked_snapshots.append(seq)

    def wait_for_role(self, running: Callable[[], bool], poll: float = 0.01) -> bool:
        """Follow the journal until the role is ours (True) or we are told to stop (False)."""
        while running():
            if self.role.try_acquire():
                return True
            if not self.follow():
                time.sleep(poll)
        return False

    def take_over(self) -> JournaledCore:
        """The role is ours: apply the rest of the journal and open it for writing."""
        while self.follow():
            pass
        log.info("taking over at seq %d", self.state.last_seq)
        return JournaledCore(self.data.root, durability=self.config.durability, state=self.state)


def run_standby(config: EngineConfig, stop: Stop) -> int:
    """Follow until the role is free, then serve as the engine; until `stop` either way."""
    running = stop.running
    standby = Standby(config)
    log.info("standby following %s from seq %d", standby.data.journal, standby.state.last_seq)
    if not standby.wait_for_role(running) or not running():
        standby.role.release()  # told to stop (Ctrl-C reaches the primary and us together)
        return 0
    started = time.monotonic()
    engine = standby.take_over()
    log.info("took over in %.3f s after the role was free", time.monotonic() - started)
    return run_engine(config, engine, standby.role, stop=stop)
