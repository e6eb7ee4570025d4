"""The journal and wire encoding of every command and event, pinned.

Commands and events are `array_like` msgspec Structs: a record is a msgpack
array of its tag and its fields in declared order, so the journal depends on
that order. The structs are `kw_only` (built with keywords, which reorders
nothing); these literal arrays were written by the positional structs before
that change, and every journal and snapshot already on disk holds them (all
but OpenAccount, which review M1 added; the old OpenAccount is OpenAccountV1).
"""

from typing import Any

import msgspec
import pytest

from exchange.core.commands import (
    AddInstrument,
    CancelOrder,
    CloseSession,
    Command,
    Deposit,
    NewOrder,
    OpenAccount,
    OpenAccountV1,
    OpenSession,
    SetAccountStatus,
    SetInstrumentStatus,
    Withdraw,
)
from exchange.core.enums import (
    AccountStatus,
    CancelReason,
    InstrumentStatus,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from exchange.core.events import (
    AccountOpened,
    AccountStatusChanged,
    BalanceChanged,
    CancelRejected,
    CommandRejected,
    DuplicateOrder,
    Event,
    Fill,
    InstrumentAdded,
    InstrumentStatusChanged,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    ReferencePriceChanged,
    SessionClosed,
    SessionOpened,
)
from exchange.engine.protocol import Request

PINNED: list[tuple[Any, list[Any]]] = [
    (
        AddInstrument(
            symbol="sym1",
            name="nam2",
            tick_size=3,
            lot_size=4,
            reference_price=5,
            max_order_quantity=6,
            band_bps=7,
            daily_limit=8,
        ),
        [1, "sym1", "nam2", 3, 4, 5, 6, 7, 8],
    ),
    (SetInstrumentStatus(symbol="sym9", status=InstrumentStatus.HALTED), [2, "sym9", 2]),
    (OpenAccountV1(account=11), [3, 11]),  # was OpenAccount before review M1
    (OpenAccount(owner="own11"), [7, "own11"]),  # new with review M1
    (SetAccountStatus(account=12, status=AccountStatus.SUSPENDED), [4, 12, 2]),
    (
        Deposit(account=14, asset="ass15", amount=16, reference="ref17"),
        [5, 14, "ass15", 16, "ref17"],
    ),
    (
        Withdraw(account=18, asset="ass19", amount=20, reference="ref21"),
        [6, 18, "ass19", 20, "ref21"],
    ),
    (
        NewOrder(
            account=22,
            client_order_id="cli23",
            symbol="sym24",
            side=Side.SELL,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.FOK,
            price=28,
            quantity=29,
        ),
        [10, 22, "cli23", "sym24", 2, 2, 4, 28, 29],
    ),
    (CancelOrder(account=30, order_id=31, client_order_id="cli32"), [11, 30, 31, "cli32"]),
    (OpenSession(trading_day=33), [20, 33]),
    (CloseSession(), [21]),
    (
        InstrumentAdded(
            symbol="sym34",
            name="nam35",
            tick_size=36,
            lot_size=37,
            reference_price=38,
            low_price=39,
            high_price=40,
            max_order_quantity=41,
            daily_limit=42,
        ),
        [101, "sym34", "nam35", 36, 37, 38, 39, 40, 41, 42],
    ),
    (InstrumentStatusChanged(symbol="sym43", status=InstrumentStatus.HALTED), [102, "sym43", 2]),
    (
        ReferencePriceChanged(symbol="sym45", reference_price=46, low_price=47, high_price=48),
        [103, "sym45", 46, 47, 48],
    ),
    (AccountOpened(account=49), [110, 49]),
    (AccountStatusChanged(account=50, status=AccountStatus.SUSPENDED), [111, 50, 2]),
    (
        BalanceChanged(
            account=52, asset="ass53", amount=54, reference="ref55", total=56, available=57
        ),
        [112, 52, "ass53", 54, "ref55", 56, 57],
    ),
    (
        CommandRejected(reason=RejectReason.REJECTION_LIMIT, account=59, detail="det60"),
        [113, 35, 59, "det60"],
    ),
    (
        OrderAccepted(
            order_id=61,
            account=62,
            client_order_id="cli63",
            symbol="sym64",
            side=Side.SELL,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.FOK,
            price=68,
            quantity=69,
            ts=70,
        ),
        [120, 61, 62, "cli63", "sym64", 2, 2, 4, 68, 69, 70],
    ),
    (
        OrderRejected(
            order_id=71,
            account=72,
            client_order_id="cli73",
            symbol="sym74",
            side=Side.SELL,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.FOK,
            price=78,
            quantity=79,
            reason=RejectReason.REJECTION_LIMIT,
            ts=81,
        ),
        [121, 71, 72, "cli73", "sym74", 2, 2, 4, 78, 79, 35, 81],
    ),
    (
        Fill(
            trade_id=82,
            order_id=83,
            account=84,
            symbol="sym85",
            side=Side.SELL,
            price=87,
            quantity=88,
            leaves_quantity=89,
            cum_quantity=90,
            aggressor=True,
            ts=92,
        ),
        [122, 82, 83, 84, "sym85", 2, 87, 88, 89, 90, True, 92],
    ),
    (
        OrderCanceled(
            order_id=93,
            account=94,
            symbol="sym95",
            side=Side.SELL,
            price=97,
            canceled_quantity=98,
            cum_quantity=99,
            reason=CancelReason.ADMIN,
            ts=101,
        ),
        [123, 93, 94, "sym95", 2, 97, 98, 99, 7, 101],
    ),
    (
        OrderExpired(
            order_id=102,
            account=103,
            symbol="sym104",
            side=Side.SELL,
            price=106,
            expired_quantity=107,
            cum_quantity=108,
            ts=109,
        ),
        [124, 102, 103, "sym104", 2, 106, 107, 108, 109],
    ),
    (
        CancelRejected(
            account=110,
            order_id=111,
            client_order_id="cli112",
            reason=RejectReason.REJECTION_LIMIT,
            ts=114,
        ),
        [125, 110, 111, "cli112", 35, 114],
    ),
    (
        DuplicateOrder(
            order_id=115,
            account=116,
            client_order_id="cli117",
            symbol="sym118",
            side=Side.SELL,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.FOK,
            price=122,
            quantity=123,
            cum_quantity=124,
            leaves_quantity=125,
            status=OrderStatus.EXPIRED,
            reject_reason=127,
            ts=128,
        ),
        [126, 115, 116, "cli117", "sym118", 2, 2, 4, 122, 123, 124, 125, 6, 127, 128],
    ),
    (SessionOpened(trading_day=129), [130, 129]),
    (SessionClosed(trading_day=130), [131, 130]),
]

_decoder = msgspec.msgpack.Decoder(Command | Event)


@pytest.mark.parametrize(("record", "array"), PINNED, ids=[type(r).__name__ for r, _ in PINNED])
def test_record_encodes_as_its_pinned_array(record: Any, array: list[Any]) -> None:
    assert msgspec.msgpack.encode(record) == msgspec.msgpack.encode(array)


@pytest.mark.parametrize(("record", "array"), PINNED, ids=[type(r).__name__ for r, _ in PINNED])
def test_pinned_array_decodes_to_the_record(record: Any, array: list[Any]) -> None:
    assert _decoder.decode(msgspec.msgpack.encode(array)) == record


def test_every_command_and_event_is_pinned() -> None:
    pinned = {type(record) for record, _ in PINNED}
    kinds = {*Command.__args__, *Event.__args__}  # type: ignore[attr-defined]
    assert pinned == kinds


def test_m1_the_engine_does_not_take_an_account_id_from_a_gateway() -> None:
    """An OpenAccountV1 (caller-chosen id) is journal-only: a request holding one is malformed."""
    decoder = msgspec.msgpack.Decoder(Request)
    frame = msgspec.msgpack.encode([1, [3, 11]])
    with pytest.raises(msgspec.ValidationError):
        decoder.decode(frame)
    assert decoder.decode(msgspec.msgpack.encode([1, [7, "own11"]])) == Request(
        1, OpenAccount(owner="own11")
    )


def test_records_are_built_with_keywords_only() -> None:
    with pytest.raises(TypeError):
        NewOrder(1, "c1", "FOOLAD", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, 10, 100)  # type: ignore[misc]
