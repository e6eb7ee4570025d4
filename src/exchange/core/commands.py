"""Inbound commands: everything that can change the core's state.

Commands are msgspec Structs, encoded as compact tagged arrays (msgpack) in
the journal and on the bus. Field types are enforced when decoding; the core
still validates every value, because bad input must never stop the loop.
Prices and amounts are integers in the smallest currency unit (Rial).
"""

from typing import Final

import msgspec

from exchange.core.enums import AccountStatus, InstrumentStatus, OrderType, Side, TimeInForce

CASH_ASSET: Final = "IRR"
"""The asset name of cash in deposits and withdrawals; any other asset is a symbol."""


class _Command(msgspec.Struct, array_like=True, gc=False, tag_field="t"):
    pass


class AddInstrument(_Command, tag=1, kw_only=True):
    """List a new instrument. Instruments are data: they enter through the journal."""

    symbol: str
    name: str
    tick_size: int
    lot_size: int
    reference_price: int
    max_order_quantity: int
    band_bps: int = 500
    """Daily price band around the reference price, in basis points (500 = +/-5 %)."""
    daily_limit: int = 1_000_000
    """Maximum filled + open quantity per account in this instrument per trading day."""


class SetInstrumentStatus(_Command, tag=2, kw_only=True):
    symbol: str
    status: InstrumentStatus


class OpenAccount(_Command, tag=3, kw_only=True):
    account: int


class SetAccountStatus(_Command, tag=4, kw_only=True):
    account: int
    status: AccountStatus


class Deposit(_Command, tag=5, kw_only=True):
    """Credit cash (asset "IRR") or shares (asset = symbol); applied once per reference."""

    account: int
    asset: str
    amount: int
    reference: str


class Withdraw(_Command, tag=6, kw_only=True):
    """Debit available cash or shares; applied once per reference."""

    account: int
    asset: str
    amount: int
    reference: str


class NewOrder(_Command, tag=10, kw_only=True):
    account: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    """Limit price; must be 0 for market orders."""
    quantity: int


class CancelOrder(_Command, tag=11, kw_only=True):
    """Cancel by exchange order id, or (when order_id is 0) by client order id."""

    account: int
    order_id: int = 0
    client_order_id: str = ""


class OpenSession(_Command, tag=20, kw_only=True):
    """Open continuous trading for a trading day (YYYYMMDD)."""

    trading_day: int


class CloseSession(_Command, tag=21, kw_only=True):
    """Close trading: DAY orders expire, reference prices roll to the last trade."""


Command = (
    AddInstrument
    | SetInstrumentStatus
    | OpenAccount
    | SetAccountStatus
    | Deposit
    | Withdraw
    | NewOrder
    | CancelOrder
    | OpenSession
    | CloseSession
)
