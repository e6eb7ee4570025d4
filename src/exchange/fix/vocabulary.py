"""The FIX 4.4 vocabulary the acceptor speaks: every tag and every enumerated value, named.

One table for everything the acceptor writes, so nothing reaches a broker
that FIX 4.4 does not define. `tests/fix/test_vocabulary.py` checks each
value here against the FIX44 data dictionary QuickFIX ships (a stricter
reference than the specification's text: it lacks OrdRejReason 12, for
example), and that every `RejectReason` of the core has an OrdRejReason:
a new reason without one fails that test instead of reaching a broker as a
value QuickFIX refuses with a session-level Reject.

Where FIX 4.4 has no code for what happened (a price outside the day's
band, off the tick), the value is OTHER (99) and Text (58) says what.
"""

from enum import IntEnum, StrEnum
from typing import Final

from exchange.core import OrderStatus, OrderType, RejectReason, Side, TimeInForce


class Tag(IntEnum):
    """Tag numbers, named as in the FIX 4.4 data dictionary (ClOrdID -> CL_ORD_ID)."""

    ACCOUNT = 1
    AVG_PX = 6
    BEGIN_SEQ_NO = 7
    BEGIN_STRING = 8
    BODY_LENGTH = 9
    CHECK_SUM = 10
    CL_ORD_ID = 11
    CUM_QTY = 14
    END_SEQ_NO = 16
    EXEC_ID = 17
    LAST_PX = 31
    LAST_QTY = 32
    MSG_SEQ_NUM = 34
    MSG_TYPE = 35
    NEW_SEQ_NO = 36
    ORDER_ID = 37
    ORDER_QTY = 38
    ORD_STATUS = 39
    ORD_TYPE = 40
    ORIG_CL_ORD_ID = 41
    POSS_DUP_FLAG = 43
    PRICE = 44
    REF_SEQ_NUM = 45
    SENDER_COMP_ID = 49
    SENDING_TIME = 52
    SIDE = 54
    SYMBOL = 55
    TARGET_COMP_ID = 56
    TEXT = 58
    TIME_IN_FORCE = 59
    TRANSACT_TIME = 60
    POSS_RESEND = 97
    ENCRYPT_METHOD = 98
    CXL_REJ_REASON = 102
    ORD_REJ_REASON = 103
    HEART_BT_INT = 108
    TEST_REQ_ID = 112
    ORIG_SENDING_TIME = 122
    GAP_FILL_FLAG = 123
    RESET_SEQ_NUM_FLAG = 141
    EXEC_TYPE = 150
    LEAVES_QTY = 151
    REF_TAG_ID = 371
    REF_MSG_TYPE = 372
    SESSION_REJECT_REASON = 373
    BUSINESS_REJECT_REASON = 380
    CXL_REJ_RESPONSE_TO = 434
    PASSWORD = 554


class MsgType(StrEnum):
    HEARTBEAT = "0"
    TEST_REQUEST = "1"
    RESEND_REQUEST = "2"
    REJECT = "3"
    SEQUENCE_RESET = "4"
    LOGOUT = "5"
    EXECUTION_REPORT = "8"
    ORDER_CANCEL_REJECT = "9"
    LOGON = "A"
    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REQUEST = "F"
    ORDER_STATUS_REQUEST = "H"
    BUSINESS_MESSAGE_REJECT = "j"


class FixSide(StrEnum):
    BUY = "1"
    SELL = "2"


FIX44_SIDES: Final = frozenset("123456789ABCDEFG")
"""Every Side FIX 4.4 defines: echoed in the rejection of a side this exchange does not take."""


class FixOrdType(StrEnum):
    MARKET = "1"
    LIMIT = "2"


class FixTimeInForce(StrEnum):
    DAY = "0"
    GOOD_TILL_CANCEL = "1"
    IMMEDIATE_OR_CANCEL = "3"
    FILL_OR_KILL = "4"


class OrdStatus(StrEnum):
    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REJECTED = "8"
    EXPIRED = "C"


class ExecType(StrEnum):
    NEW = "0"
    CANCELED = "4"
    REJECTED = "8"
    EXPIRED = "C"
    TRADE = "F"
    ORDER_STATUS = "I"


class OrdRejReason(IntEnum):
    BROKER_OPTION = 0
    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2
    ORDER_EXCEEDS_LIMIT = 3
    DUPLICATE_ORDER = 6
    UNSUPPORTED_ORDER_CHARACTERISTIC = 11
    INCORRECT_QUANTITY = 13
    UNKNOWN_ACCOUNT = 15
    OTHER = 99


class CxlRejReason(IntEnum):
    TOO_LATE_TO_CANCEL = 0
    UNKNOWN_ORDER = 1


class CxlRejResponseTo(IntEnum):
    ORDER_CANCEL_REQUEST = 1


class SessionRejectReason(IntEnum):
    REQUIRED_TAG_MISSING = 1
    VALUE_IS_INCORRECT = 5
    COMP_ID_PROBLEM = 9
    SENDING_TIME_ACCURACY_PROBLEM = 10


class BusinessRejectReason(IntEnum):
    UNSUPPORTED_MESSAGE_TYPE = 3
    APPLICATION_NOT_AVAILABLE = 4


class EncryptMethod(IntEnum):
    NONE = 0


class YesNo(StrEnum):
    """PossDupFlag (43), PossResend (97), GapFillFlag (123), ResetSeqNumFlag (141)."""

    YES = "Y"
    NO = "N"


ENUMERATED: Final[dict[Tag, type[StrEnum] | type[IntEnum]]] = {
    Tag.MSG_TYPE: MsgType,
    Tag.SIDE: FixSide,
    Tag.ORD_TYPE: FixOrdType,
    Tag.TIME_IN_FORCE: FixTimeInForce,
    Tag.ORD_STATUS: OrdStatus,
    Tag.EXEC_TYPE: ExecType,
    Tag.ORD_REJ_REASON: OrdRejReason,
    Tag.CXL_REJ_REASON: CxlRejReason,
    Tag.CXL_REJ_RESPONSE_TO: CxlRejResponseTo,
    Tag.SESSION_REJECT_REASON: SessionRejectReason,
    Tag.BUSINESS_REJECT_REASON: BusinessRejectReason,
    Tag.ENCRYPT_METHOD: EncryptMethod,
    Tag.POSS_DUP_FLAG: YesNo,
    Tag.POSS_RESEND: YesNo,
    Tag.GAP_FILL_FLAG: YesNo,
    Tag.RESET_SEQ_NUM_FLAG: YesNo,
}
"""Every enumerated tag the acceptor writes, with the values it may write."""

# ------------------------------------------------------------- the core's words
# Keyed by the members, which are equal to (and hash as) their codes: a received code looks up.

SIDES: Final[dict[str, Side]] = {FixSide.BUY: Side.BUY, FixSide.SELL: Side.SELL}
SIDE_CODES: Final = {v: k for k, v in SIDES.items()}
ORDER_TYPES: Final[dict[str, OrderType]] = {
    FixOrdType.MARKET: OrderType.MARKET,
    FixOrdType.LIMIT: OrderType.LIMIT,
}
TYPE_CODES: Final = {v: k for k, v in ORDER_TYPES.items()}
TIME_IN_FORCE: Final[dict[str, TimeInForce]] = {
    FixTimeInForce.DAY: TimeInForce.DAY,
    FixTimeInForce.GOOD_TILL_CANCEL: TimeInForce.GTC,
    FixTimeInForce.IMMEDIATE_OR_CANCEL: TimeInForce.IOC,
    FixTimeInForce.FILL_OR_KILL: TimeInForce.FOK,
}
TIF_CODES: Final = {v: k for k, v in TIME_IN_FORCE.items()}
ORD_STATUS: Final = {
    OrderStatus.NEW: OrdStatus.NEW,
    OrderStatus.PARTIALLY_FILLED: OrdStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED: OrdStatus.FILLED,
    OrderStatus.CANCELED: OrdStatus.CANCELED,
    OrderStatus.REJECTED: OrdStatus.REJECTED,
    OrderStatus.EXPIRED: OrdStatus.EXPIRED,
}
EXEC_TYPE: Final = {
    "accepted": ExecType.NEW,
    "fill": ExecType.TRADE,
    "canceled": ExecType.CANCELED,
    "expired": ExecType.EXPIRED,
    "rejected": ExecType.REJECTED,
}
"""The order view's report kinds as ExecType (150)."""

_OTHER = OrdRejReason.OTHER
ORD_REJ_REASON: Final[dict[RejectReason, OrdRejReason]] = {
    RejectReason.UNKNOWN_SYMBOL: OrdRejReason.UNKNOWN_SYMBOL,
    RejectReason.UNKNOWN_ACCOUNT: OrdRejReason.UNKNOWN_ACCOUNT,
    RejectReason.ACCOUNT_NOT_OPEN: _OTHER,
    RejectReason.INVALID_QUANTITY: OrdRejReason.INCORRECT_QUANTITY,
    RejectReason.QUANTITY_ABOVE_MAX: OrdRejReason.ORDER_EXCEEDS_LIMIT,
    RejectReason.INVALID_PRICE: _OTHER,  # off the tick: FIX 5.0's 18, not in 4.4
    RejectReason.PRICE_OUT_OF_BAND: _OTHER,  # FIX 5.0's 16, not in 4.4
    RejectReason.MARKET_CLOSED: OrdRejReason.EXCHANGE_CLOSED,
    RejectReason.INSTRUMENT_HALTED: OrdRejReason.EXCHANGE_CLOSED,
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: OrdRejReason.DUPLICATE_ORDER,
    RejectReason.UNKNOWN_ORDER: _OTHER,
    RejectReason.NOT_ORDER_OWNER: _OTHER,
    RejectReason.ORDER_FINAL: _OTHER,
    RejectReason.INSUFFICIENT_FUNDS: OrdRejReason.ORDER_EXCEEDS_LIMIT,
    RejectReason.INSUFFICIENT_SHARES: OrdRejReason.ORDER_EXCEEDS_LIMIT,
    RejectReason.RISK_LIMIT: OrdRejReason.ORDER_EXCEEDS_LIMIT,
    RejectReason.INVALID_AMOUNT: _OTHER,
    RejectReason.DUPLICATE_REFERENCE: _OTHER,
    RejectReason.ACCOUNT_EXISTS: _OTHER,
    RejectReason.SYMBOL_EXISTS: _OTHER,
    RejectReason.INVALID_INSTRUMENT: _OTHER,
    RejectReason.INVALID_TIME_IN_FORCE: OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    RejectReason.SESSION_ALREADY_OPEN: _OTHER,
    RejectReason.SESSION_NOT_OPEN: _OTHER,
    RejectReason.INVALID_TRADING_DAY: _OTHER,
    RejectReason.INVALID_CLIENT_ORDER_ID: _OTHER,
    RejectReason.NO_CHANGE: _OTHER,
    RejectReason.INVALID_ACCOUNT_ID: OrdRejReason.UNKNOWN_ACCOUNT,
    RejectReason.INVALID_SIDE: OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    RejectReason.INVALID_ORDER_TYPE: OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    RejectReason.UNKNOWN_COMMAND: _OTHER,
    RejectReason.BALANCE_LIMIT: OrdRejReason.ORDER_EXCEEDS_LIMIT,
    RejectReason.INVALID_SYMBOL: OrdRejReason.UNKNOWN_SYMBOL,
    RejectReason.INVALID_REFERENCE: _OTHER,
    RejectReason.REJECTION_LIMIT: OrdRejReason.ORDER_EXCEEDS_LIMIT,
}
"""Every reason of the core as OrdRejReason (103), explicitly: a new reason must be placed."""


def ord_rej_reason(reason: RejectReason) -> OrdRejReason:
    """The code for a rejection (OTHER if the table lacks it; the test makes sure it does not)."""
    return ORD_REJ_REASON.get(reason, _OTHER)
