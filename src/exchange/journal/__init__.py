"""The journal: the exchange's source of truth on disk.

Append-only segmented files of CRC-checked records, each covering a
gap-free range of sequence numbers; recovery that repairs a torn tail and
refuses any other damage; a reader that tails a live journal; and snapshots.
"""

from exchange.journal.errors import JournalCorruptError
from exchange.journal.reader import JournalReader
from exchange.journal.record import Record
from exchange.journal.recovery import RecoveryResult, recover
from exchange.journal.snapshots import ForkedSnapshotWriter, SnapshotStore
from exchange.journal.writer import Durability, JournalWriter

__all__ = [
    "Durability",
    "ForkedSnapshotWriter",
    "JournalCorruptError",
    "JournalReader",
    "JournalWriter",
    "Record",
    "RecoveryResult",
    "SnapshotStore",
    "recover",
]
