"""Request and response bodies: msgspec Structs, camelCase on the wire, unknown fields refused."""

from datetime import date
from typing import Annotated, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(max_length=100)]
Short = Annotated[str, msgspec.Meta(max_length=20)]
Address = Annotated[str, msgspec.Meta(max_length=300)]
Email = Annotated[str, msgspec.Meta(max_length=254)]
Secret = Annotated[str, msgspec.Meta(max_length=256)]
Note = Annotated[str, msgspec.Meta(max_length=500)]


class _In(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    pass


class _Out(msgspec.Struct, rename="camel"):
    pass


class ApplicationIn(_In):
    full_name: Name
    national_id: Short
    date_of_birth: date
    address: Address
    email: Email
    phone: Short


class Reason(_Out):
    code: str
    field: str


class ApplicationOut(_Out):
    application_id: int
    status: str
    reasons: list[Reason] = []


class KycApplicationOut(_Out):
    application_id: int
    full_name: str
    national_id: str
    date_of_birth: date | None
    email: str
    phone: str
    status: str
    reasons: list[Reason]


class KycListOut(_Out):
    applications: list[KycApplicationOut]


class RejectIn(_In):
    reason: Note = ""


class ApproveOut(_Out):
    account_id: int
    client_id: str
    client_secret: str


class CredentialOut(_Out):
    client_id: str
    revoked: bool


class CredentialsOut(_Out):
    credentials: list[CredentialOut]


class RevokedOut(_Out):
    client_id: str
    revoked: bool


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    """OAuth2 client credentials (RFC 6749 section 4.4): snake_case, form or JSON."""

    client_id: Annotated[str, msgspec.Meta(max_length=64)]
    client_secret: Secret
    grant_type: str = "client_credentials"
    scope: Annotated[str, msgspec.Meta(max_length=100)] = ""


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


# ------------------------------------------------------------------ trading

PRINTABLE_ID = r"^[\x21-\x7e]{1,64}(?!\n)$"
"""1 to 64 printable ASCII characters, no space: identifiers reach FIX frames, PostgreSQL and
logs, so no NUL, SOH or other control character may pass (the core checks the same).
`(?!\n)`: Python's `$` also matches before a final newline."""
Symbol = Annotated[
    str, msgspec.Meta(min_length=1, max_length=16, pattern=r"^[A-Z0-9]{1,16}(?!\n)$")
]
ClientOrderId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=PRINTABLE_ID)]
Amount = Annotated[int, msgspec.Meta(ge=-(10**15), le=10**15)]
"""Prices and quantities as the client sent them; the engine judges their meaning."""
AccountId = Annotated[int, msgspec.Meta(ge=1, le=2**53)]
SideName = Literal["buy", "sell"]
TypeName = Literal["limit", "market"]
TimeInForceName = Literal["day", "gtc", "ioc", "fok"]
StatusName = Literal["new", "partially_filled", "filled", "canceled", "rejected", "expired"]


class OrderIn(_In):
    symbol: Symbol
    side: SideName
    type: TypeName
    quantity: Amount
    price: Amount | None = None
    """Limit orders only."""
    time_in_force: TimeInForceName = "day"
    client_order_id: ClientOrderId | None = None
    """Your id for the order; a retry with the same one returns the original order."""
    account_id: AccountId | None = None
    """Required only when the credential trades for several accounts."""


class ExecutionOut(_Out):
    id: int
    price: int
    quantity: int
    time: int
    """Epoch milliseconds."""


class OrderOut(_Out):
    id: int
    account_id: int
    client_order_id: str
    symbol: str
    side: SideName
    type: TypeName
    time_in_force: TimeInForceName
    price: int | None
    quantity: int
    filled_quantity: int
    remaining_quantity: int
    status: StatusName
    reject_reason: str | None
    creation_time: int
    """Epoch milliseconds."""
    executions: list[ExecutionOut]
    cancel_reason: str | None = None
    """Set when canceled: USER, NO_LIQUIDITY, MARKET_REMAINDER, IOC_REMAINDER, SELF_TRADE, ..."""


class OrderListOut(_Out):
    orders: list[OrderOut]
    next_cursor: str | None = None
    """Pass as `cursor` for the next page (history queries); null on the last page."""


class ExecutionRowOut(_Out):
    id: int
    """The trade id (the same as in the order's executions)."""
    order_id: int
    symbol: str
    side: SideName
    price: int
    quantity: int
    time: int
    """Epoch milliseconds."""


class ExecutionListOut(_Out):
    executions: list[ExecutionRowOut]
    next_cursor: str | None = None


class CashOut(_Out):
    total: int
    available: int


class PositionOut(_Out):
    symbol: str
    total: int
    available: int


class AccountOut(_Out):
    account_id: int
    status: Literal["open", "suspended"]
    cash: CashOut
    positions: list[PositionOut]


class ReportOut(_Out):
    """One execution report on the WebSocket stream."""

    seq: int
    """The engine's outbound event sequence number: resume with ?since=<last seq seen>."""
    type: Literal["accepted", "rejected", "fill", "canceled", "expired"]
    order_id: int
    client_order_id: str
    symbol: str
    side: SideName
    order_type: TypeName
    time_in_force: TimeInForceName
    price: int | None
    quantity: int
    status: StatusName
    filled_quantity: int
    remaining_quantity: int
    reject_reason: str | None
    creation_time: int
    time: int
    execution: ExecutionOut | None


class SymbolOut(_Out):
    symbol: str
    name: str
    tick_size: int
    lot_size: int
    reference_price: int
    low_price: int
    high_price: int
    max_order_quantity: int
    status: Literal["active", "halted"]


# -------------------------------------------------------------------- admin

Reference = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=PRINTABLE_ID)]


class MovementIn(_In):
    asset: Symbol
    """"IRR" for cash, or a symbol for shares."""
    amount: Annotated[int, msgspec.Meta(ge=1, le=10**15)]
    reference: Reference
    """Your unique reference: the same reference is applied once only."""


class MovementOut(_Out):
    account_id: int
    asset: str
    amount: int
    reference: str
    total: int
    available: int


class AccountStatusOut(_Out):
    account_id: int
    status: Literal["open", "suspended"]


class SymbolStatusOut(_Out):
    symbol: str
    status: Literal["active", "halted"]


class HealthOut(_Out):
    status: str
