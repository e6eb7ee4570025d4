"""Small integer vocabularies shared by commands, events and state.

They are IntEnums so they encode as plain integers on the wire and in the
journal, and compare as ints in the hot path.
"""

from enum import IntEnum


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2


class TimeInForce(IntEnum):
    DAY = 1
    GTC = 2
    IOC = 3
    FOK = 4


class OrderStatus(IntEnum):
    NEW = 1
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELED = 4
    REJECTED = 5
    EXPIRED = 6

    @property
    def is_final(self) -> bool:
        return self >= OrderStatus.FILLED


class AccountStatus(IntEnum):
    OPEN = 1
    SUSPENDED = 2


class InstrumentStatus(IntEnum):
    ACTIVE = 1
    HALTED = 2


class RejectReason(IntEnum):
    """Why a command changed nothing. Every rejection carries exactly one."""

    UNKNOWN_SYMBOL = 1
    UNKNOWN_ACCOUNT = 2
    ACCOUNT_NOT_OPEN = 3
    INVALID_QUANTITY = 4
    QUANTITY_ABOVE_MAX = 5
    INVALID_PRICE = 6
    PRICE_OUT_OF_BAND = 7
    MARKET_CLOSED = 8
    INSTRUMENT_HALTED = 9
    DUPLICATE_CLIENT_ORDER_ID = 10
    UNKNOWN_ORDER = 11
    NOT_ORDER_OWNER = 12
    ORDER_FINAL = 13
    INSUFFICIENT_FUNDS = 14
    INSUFFICIENT_SHARES = 15
    RISK_LIMIT = 16
    INVALID_AMOUNT = 17
    DUPLICATE_REFERENCE = 18
    ACCOUNT_EXISTS = 19
    SYMBOL_EXISTS = 20
    INVALID_INSTRUMENT = 21
    INVALID_TIME_IN_FORCE = 22
    SESSION_ALREADY_OPEN = 23
    SESSION_NOT_OPEN = 24
    INVALID_TRADING_DAY = 25
    INVALID_CLIENT_ORDER_ID = 26
    """Not 1 to 64 printable ASCII characters (0x21-0x7e): no order is created."""
    NO_CHANGE = 27
    INVALID_ACCOUNT_ID = 28
    INVALID_SIDE = 29
    INVALID_ORDER_TYPE = 30
    UNKNOWN_COMMAND = 31
    BALANCE_LIMIT = 32
    """The balance or position (with what open orders may still bring in) would pass MAX_BALANCE."""
    INVALID_SYMBOL = 33
    """Not a possible symbol (1 to 12 of A-Z and 0-9): no order is created."""
    INVALID_REFERENCE = 34
    """A deposit or withdrawal reference that is not 1 to 64 printable ASCII characters."""
    REJECTION_LIMIT = 35
    """The order would be rejected, and the account already had MAX_REJECTED_ORDERS orders
    rejected this trading day: refused with no order id, and nothing kept."""


class CancelReason(IntEnum):
    """Why (part of) an order left the book without trading."""

    USER = 1
    IOC_REMAINDER = 2
    MARKET_REMAINDER = 3
    FOK_UNFILLABLE = 4
    SELF_TRADE = 5
    NO_LIQUIDITY = 6
    ADMIN = 7
