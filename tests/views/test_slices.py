"""A view that follows one account shard's slices sees exactly what a whole view sees of them."""

from __future__ import annotations

import itertools

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core import ExchangeCore
from exchange.sequencer import Batch, Sequencer, cut, decode_slice, encode_slice, shard_of
from exchange.views.order_view import ExchangeView
from tests.engine.workload import random_batches, setup_batch


def sealed_batches(seed: int, count: int) -> list[Batch]:
    core = ExchangeCore()
    clock = itertools.count(1_000_000_000)
    sequencer = Sequencer(lambda: next(clock))
    sealed = []
    for commands in [setup_batch(), *random_batches(seed, count)]:
        first_seq, ts = sequencer.stamp(commands)
        sealed.append(
            sequencer.seal(first_seq, ts, commands, [core.apply(c, ts) for c in commands])
        )
    return sealed


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1, 2, 3, 4]))
def test_each_shard_view_holds_its_accounts_exactly_as_the_whole_view(
    seed: int, shards: int
) -> None:
    batches = sealed_batches(seed, 40)
    whole = ExchangeView()
    parts = {shard: ExchangeView() for shard in range(shards)}
    for batch in batches:
        reports = whole.apply(batch)
        cut_up = cut(batch, shards, set(range(shards)))
        for shard, view in parts.items():
            part = decode_slice(encode_slice(cut_up[shard]))  # as it goes over the wire
            assert (part.first_seq, part.count, part.shards) == (
                batch.first_seq,
                len(batch.commands),
                shards,
            )
            got = view.apply(part)
            assert got == [(a, r) for a, r in reports if shard_of(a, shards) == shard]
    assert whole.orders, "the session traded"
    for shard, view in parts.items():
        assert (view.next_seq, view.next_event_seq) == (whole.next_seq, whole.next_event_seq)
        mine = {i: o for i, o in whole.orders.items() if shard_of(o.account, shards) == shard}
        assert msgspec.to_builtins(view.orders) == msgspec.to_builtins(mine)
        assert view.symbols == whole.symbols  # events of no account reach every shard
        assert all(shard_of(account, shards) == shard for account in view.accounts)


def test_a_slice_holds_only_its_accounts_and_the_events_of_no_account() -> None:
    batches = sealed_batches(7, 10)
    listing = batches[0]  # instruments and accounts
    part = cut(listing, 4, {1})[1]
    accounts = {getattr(e, "account", 0) for e in part.events}
    assert accounts <= {0, 1, 5}  # the workload's accounts 1..6: shard 1 of 4 has 1 and 5
    instruments = [e for e in part.events if not getattr(e, "account", 0)]
    assert len(instruments) == sum(
        1 for es in listing.events for e in es if not getattr(e, "account", 0)
    )
    # Event numbers are the batch's own, so report seqs (stream resume) are the same everywhere.
    numbered = dict(zip(part.seqs, part.events, strict=True))
    flat = [e for es in listing.events for e in es]
    for seq, event in numbered.items():
        assert flat[seq - listing.first_event_seq] == event
