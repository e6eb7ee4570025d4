"""The projection base: batches strictly in order, events to the `on_<event>` methods."""

from __future__ import annotations

import itertools

import pytest

from exchange.core import ExchangeCore
from exchange.core.events import Event, Fill, OrderAccepted
from exchange.sequencer import Batch, Sequencer
from exchange.views.projection import OutOfOrderError, Projection
from tests.engine.workload import random_batches, setup_batch


def journal(batches: int) -> list[Batch]:
    core = ExchangeCore()
    clock = itertools.count(1_000_000_000)
    sequencer = Sequencer(lambda: next(clock))
    sealed = []
    for commands in [setup_batch(), *random_batches(3, batches)]:
        first_seq, ts = sequencer.stamp(commands)
        sealed.append(
            sequencer.seal(first_seq, ts, commands, [core.apply(c, ts) for c in commands])
        )
    return sealed


class Seen(Projection):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, Event]] = []

    def on_order_accepted(self, event: OrderAccepted, seq: int) -> None:
        self.seen.append((seq, event))

    def on_fill(self, event: Fill, seq: int) -> None:
        self.seen.append((seq, event))


def test_each_event_reaches_its_handler_with_its_event_seq_and_no_other() -> None:
    batches = journal(30)
    projection = Seen()
    for batch in batches:
        projection.fold(batch)
    numbered = [
        (batch.first_event_seq + i, event)
        for batch in batches
        for i, event in enumerate(e for events in batch.events for e in events)
    ]
    expected = [(s, e) for s, e in numbered if type(e) in (OrderAccepted, Fill)]
    assert expected and projection.seen == expected
    assert projection.next_seq == batches[-1].first_seq + len(batches[-1].commands)
    assert projection.next_event_seq == numbered[-1][0] + 1


def test_a_gap_or_a_repeat_is_refused_and_changes_nothing() -> None:
    first, second, third = journal(2)
    projection = Seen()
    projection.fold(first)
    last = second.first_seq - 1
    with pytest.raises(OutOfOrderError, match=f"batch {third.first_seq} does not follow {last}$"):
        projection.fold(third)
    with pytest.raises(OutOfOrderError, match=f"batch 1 does not follow {last}$"):
        projection.fold(first)
    assert projection.next_seq == second.first_seq
    projection.fold(second)


def test_a_handler_that_names_no_event_is_an_error_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="on_order_acepted names no event type"):

        class Typo(Projection):
            def on_order_acepted(self, event: OrderAccepted, seq: int) -> None:
                pass
