"""The market-data books equal the engine's books after random trading sessions."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core import ExchangeCore, Side
from exchange.marketdata.books import MarketBooks
from exchange.sequencer import Batch, Sequencer
from tests.engine.workload import random_batches, setup_batch


def l3_of_core(
    core: ExchangeCore, symbol: str, side: Side
) -> list[tuple[int, list[tuple[int, int]]]]:
    book = core.books[symbol] if symbol in core.books else core.instruments[symbol].book
    book_side = book.bids if side is Side.BUY else book.asks
    return [
        (level.price, [(o.id, o.leaves) for o in level.live_orders()])
        for level in book_side.levels_best_first()
    ]


def l3_of_view(
    books: MarketBooks, symbol: str, side: Side
) -> list[tuple[int, list[tuple[int, int]]]]:
    book = books.books[symbol]
    return [
        (price, [(i, book.orders[i].remaining) for i in level.orders])
        for price, level in book.side(side).best_first()
    ]


def session(seed: int, batches: int) -> tuple[ExchangeCore, list[Batch]]:
    core = ExchangeCore()
    clock = itertools.count(1_000_000_000)
    sequencer = Sequencer(lambda: next(clock))
    sealed = []
    for commands in [setup_batch(), *random_batches(seed, batches)]:
        first_seq, ts = sequencer.stamp(commands)
        sealed.append(
            sequencer.seal(first_seq, ts, commands, [core.apply(c, ts) for c in commands])
        )
    return core, sealed


def assert_same_books(core: ExchangeCore, books: MarketBooks) -> None:
    for symbol in core.instruments:
        for side in (Side.BUY, Side.SELL):
            assert l3_of_view(books, symbol, side) == l3_of_core(core, symbol, side), (symbol, side)
            book = books.books[symbol]
            for level in book.side(side).levels.values():
                assert level.quantity == sum(book.orders[i].remaining for i in level.orders)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6))
def test_books_rebuilt_from_events_equal_the_engine_books(seed: int) -> None:
    core, sealed = session(seed, 80)
    books = MarketBooks()
    for batch in sealed:
        books.apply(batch)
    assert_same_books(core, books)
    assert set(books.where) == {i for b in books.books.values() for i in b.orders}


def test_the_tape_and_day_statistics_follow_the_trades() -> None:
    _, sealed = session(5, 60)
    books = MarketBooks()
    changed_trades = 0
    for batch in sealed:
        changes = books.apply(batch)
        changed_trades += sum(len(c.trades) for c in changes.values())
    total = sum(len(b.trades) for b in books.books.values())
    assert 0 < total <= changed_trades
    for book in books.books.values():
        if book.trades:
            assert book.last_price == book.trades[-1].price
            assert book.day_low <= book.last_price <= book.day_high


def test_each_change_moves_the_symbol_seq_by_one() -> None:
    _, sealed = session(9, 30)
    books = MarketBooks()
    for batch in sealed:
        before = {s: b.seq for s, b in books.books.items()}
        changes = books.apply(batch)
        for symbol, book in books.books.items():
            assert book.seq == before.get(symbol, 0) + (1 if symbol in changes else 0)
