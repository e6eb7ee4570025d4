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


class OpenAccount(_Command, tag=7, kw_only=True):
    """Open an account under the next id the core allocates (AccountOpened names it).

    `owner` is the opener's own unique reference for the account (the accounts
    database's random reference of an application), bound to it for good: the same
    owner again opens nothing and is answered ACCOUNT_EXISTS with the account bound to
    it and the owner as detail, so a retry after a crash finds its own account, and no
    other opener can get it (review M1: the caller no longer chooses the id).
    """

    owner: str


class OpenAccountV1(_Command, tag=3, kw_only=True):
    """Replay only: the account id chosen by the caller, as before review M1.

    Journals written before hold it and replay it to the same state (it moves the
    core's next account id past `account`). The engine does not take it from gateways:
    it is not a `RequestCommand`.
    """

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


RequestCommand = (
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
"""What the engine takes from a gateway to sequence."""

Command = RequestCommand | OpenAccountV1
"""Everything the core applies and a journal may hold."""
