"""Gap-free numbering of inbound commands and outbound events, and the core's only clock."""

from collections.abc import Callable

from exchange.core.commands import Command
from exchange.core.events import Event
from exchange.sequencer.batch import Batch

Clock = Callable[[], int]
"""Returns epoch nanoseconds; time.time_ns in production, a counter in tests."""


class Sequencer:
    """Stamps batches: a sequence number per command, one timestamp per batch.

    Timestamps never go backwards, even if the wall clock does, so the core
    sees a monotonic time.
    """

    def __init__(self, clock: Clock, next_seq: int = 1, next_event_seq: int = 1) -> None:
        self._clock = clock
        self.next_seq = next_seq
        self.next_event_seq = next_event_seq
        self.last_ts = 0

    def stamp(self, commands: list[Command]) -> tuple[int, int]:
        """Reserve sequence numbers for `commands`; returns (first_seq, ts)."""
        first = self.next_seq
        self.next_seq = first + len(commands)
        ts = self._clock()
        if ts <= self.last_ts:
            ts = self.last_ts + 1
        self.last_ts = ts
        return first, ts

    def seal(
        self, first_seq: int, ts: int, commands: list[Command], events: list[list[Event]]
    ) -> Batch:
        """Number the events of a stamped batch and wrap it for the journal."""
        first_event_seq = self.next_event_seq
        self.next_event_seq = first_event_seq + sum(len(e) for e in events)
        return Batch(first_seq, ts, first_event_seq, commands, events)

    def resume(self, batch_last_seq: int, next_event_seq: int, last_ts: int) -> None:
        """Continue after a recovered journal."""
        self.next_seq = batch_last_seq + 1
        self.next_event_seq = next_event_seq
        self.last_ts = max(self.last_ts, last_ts)
