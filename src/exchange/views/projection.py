"""The read side's one way to fold the journal: batches in order, events to typed handlers.

Every projection (the trading clients' order view, the market-data books,
the reporter's rows) follows the same journal the same way: a batch must
be the next one after the last applied (a gap or a repeat is a bug in the
feed, never something to paper over), and each event goes to the
projection's `on_<event>` method, e.g. `on_order_accepted(self, event:
OrderAccepted, seq: int)`, or nowhere if it has none. The way liquibook's
order listener and exchange-core's events handler give each event kind
its own typed callback, so a projection says what it reads by the methods
it defines.

The dispatch table is built once per class (at class creation), mapping
each event type straight to its function: one dict lookup and one call per
event, as cheap as the hand-built per-instance tables it replaces. A method
named `on_...` that matches no event is an error at import time, so a typo
cannot silently drop events.
"""

import re
from collections.abc import Callable, Iterable
from typing import ClassVar, get_args

from exchange.core.events import Event
from exchange.sequencer import Batch, Slice

EVENT_TYPES: tuple[type[Event], ...] = get_args(Event)


def handler_name(event_type: type) -> str:
    """`OrderAccepted` -> `on_order_accepted`."""
    return "on_" + re.sub(r"(?<!^)(?=[A-Z])", "_", event_type.__name__).lower()


_BY_NAME = {handler_name(t): t for t in EVENT_TYPES}


class OutOfOrderError(ValueError):
    """A batch that is not the next one: the projection would silently diverge."""


Handler = Callable[["Projection", Event, int], None]
"""An `on_<event>` function as the table holds it: (projection, event, event seq)."""


class Projection:
    """Base of every read-side projection: `next_seq`, in-order batches, typed dispatch."""

    _handlers: ClassVar[dict[type[Event], Handler]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for name in dir(cls):
            if name.startswith("on_") and name not in _BY_NAME:
                raise TypeError(f"{cls.__name__}.{name} names no event type ({sorted(_BY_NAME)})")
        cls._handlers = {
            t: getattr(cls, name) for name, t in _BY_NAME.items() if hasattr(cls, name)
        }

    def __init__(self, next_seq: int = 1, next_event_seq: int = 1) -> None:
        self.next_seq = next_seq
        """The first command sequence number not applied yet."""
        self.next_event_seq = next_event_seq
        """The first event sequence number not applied yet."""

    def fold(self, batch: Batch | Slice) -> None:
        """Apply the next batch's events in order; OutOfOrderError if it is not the next one.
        A `Slice` (some accounts' part of a batch) is applied the same way."""
        if type(batch) is Slice:
            self.fold_slice(batch)
            return
        assert type(batch) is Batch
        if batch.first_seq != self.next_seq:
            raise OutOfOrderError(f"batch {batch.first_seq} does not follow {self.next_seq - 1}")
        handlers = self._handlers
        seq = batch.first_event_seq
        for events in batch.events:
            for event in events:  # fold_events, inlined: this loop is every projection's hot path
                handler = handlers.get(type(event))
                if handler is not None:
                    handler(self, event, seq)
                seq += 1
        self.next_seq = batch.first_seq + len(batch.commands)
        self.next_event_seq = seq

    def fold_slice(self, part: Slice) -> None:
        """The next batch's events of the slice's accounts (slices.py), in order."""
        if part.first_seq != self.next_seq:
            raise OutOfOrderError(f"slice {part.first_seq} does not follow {self.next_seq - 1}")
        handlers = self._handlers
        for seq, event in zip(part.seqs, part.events, strict=True):
            handler = handlers.get(type(event))
            if handler is not None:
                handler(self, event, seq)
        self.next_seq = part.first_seq + part.count
        self.next_event_seq = part.first_event_seq + part.event_count

    def fold_events(self, events: Iterable[Event], first_seq: int) -> None:
        """Dispatch events numbered from `first_seq` (outside any batch: a command's reply)."""
        handlers = self._handlers
        seq = first_seq
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(self, event, seq)
            seq += 1
