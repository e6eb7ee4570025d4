"""`exchange reporter`: follows the journal from its committed position into SQL.

Off the critical path: it reads the engine's journal files (never the
engine itself), gathers up to `max_records` records per transaction, and
commits their rows together with the position they reach. Restarted after
anything, SIGKILL included, it continues exactly where the database says.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path

from exchange.journal import JournalReader
from exchange.reporter.projector import Projector
from exchange.reporter.store import ReportStore
from exchange.sequencer import decode_batch

log = logging.getLogger(__name__)


class Reporter:
    def __init__(
        self,
        journal: Path,
        store: ReportStore,
        *,
        max_records: int = 2_000,
        idle_sleep: float = 0.02,
    ) -> None:
        self.journal = journal
        self.store = store
        self.max_records = max_records
        self.idle_sleep = idle_sleep
        last_seq, trading_day, totals = store.state()
        self.projector = Projector(last_seq, trading_day, totals)
        self.reader: JournalReader | None = None
        self.transactions = 0

    @property
    def last_seq(self) -> int:
        return self.projector.last_seq

    def step(self) -> int:
        """Read what is new in the journal and commit it; how many records that was."""
        if self.reader is None:
            if not self.journal.exists():
                return 0
            self.reader = JournalReader(self.journal, from_seq=self.projector.last_seq + 1)
        records = self.reader.poll(self.max_records)
        if not records:
            return 0
        for record in records:
            self.projector.add(decode_batch(record.payload))
        self.store.write(self.projector.take())
        self.transactions += 1
        return len(records)

    def run(self, running: Callable[[], bool], *, exit_when_idle: bool = False) -> None:
        log.info("reporter resumes after seq %d", self.last_seq)
        while running():
            if not self.step():
                if exit_when_idle:
                    break
                time.sleep(self.idle_sleep)
        log.info("reporter stopped after seq %d", self.last_seq)
