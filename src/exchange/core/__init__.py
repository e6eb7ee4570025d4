"""The pure core: order manager and matching engine as one deterministic state machine.

Import it with nothing else running: no I/O, no clock, no randomness.
"""

from exchange.core.commands import (
    CASH_ASSET,
    AddInstrument,
    CancelOrder,
    CloseSession,
    Command,
    Deposit,
    NewOrder,
    OpenAccount,
    OpenAccountV1,
    OpenSession,
    RequestCommand,
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
from exchange.core.events import Event
from exchange.core.machine import ExchangeCore
from exchange.core.snapshot import encode, restore, state_hash

__all__ = [
    "CASH_ASSET",
    "AccountStatus",
    "AddInstrument",
    "CancelOrder",
    "CancelReason",
    "CloseSession",
    "Command",
    "Deposit",
    "Event",
    "ExchangeCore",
    "InstrumentStatus",
    "NewOrder",
    "OpenAccount",
    "OpenAccountV1",
    "OpenSession",
    "OrderStatus",
    "OrderType",
    "RejectReason",
    "RequestCommand",
    "SetAccountStatus",
    "SetInstrumentStatus",
    "Side",
    "TimeInForce",
    "Withdraw",
    "encode",
    "restore",
    "state_hash",
]
