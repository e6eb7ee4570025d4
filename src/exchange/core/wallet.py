"""Accounts: cash and shares, each with a total and a reserved part.

Reserved is what open orders have set aside: cash for buys, shares for
sells. Available = total - reserved. Incoming is the most cash open sells can
still credit, so a bound on balances can be checked when an order enters
rather than when it fills. The per-symbol position also carries the
daily risk counters, because both are touched by the same fills.
"""

from exchange.core.enums import AccountStatus


class Position:
    """Shares of one symbol held by one account, and today's risk usage."""

    __slots__ = ("filled_today", "open_quantity", "reserved", "total")

    def __init__(self) -> None:
        self.total = 0
        self.reserved = 0
        self.filled_today = 0
        self.open_quantity = 0

    @property
    def available(self) -> int:
        return self.total - self.reserved


class Account:
    __slots__ = (
        "cash",
        "cash_incoming",
        "cash_reserved",
        "id",
        "orders_by_client_id",
        "owner",
        "positions",
        "rejected_today",
        "status",
    )

    def __init__(self, account_id: int, owner: str = "") -> None:
        self.id = account_id
        self.owner = owner
        """The reference it was opened for ("" for an account opened by id before review M1)."""
        self.status = AccountStatus.OPEN
        self.cash = 0
        self.cash_reserved = 0
        self.cash_incoming = 0
        """The most cash this account's open sell orders can still bring in (their
        `reserve_price` x leaves): with `cash`, kept at or under MAX_BALANCE."""
        self.positions: dict[str, Position] = {}
        self.orders_by_client_id: dict[str, int] = {}
        """Client order id -> order id for today's orders and live ones of earlier days; for
        a rejected order, a negative `pack_rejection` (rejected orders are not kept whole)."""
        self.rejected_today = 0
        """Rejected orders kept under `orders_by_client_id` (bounded by MAX_REJECTED_ORDERS)."""

    @property
    def cash_available(self) -> int:
        return self.cash - self.cash_reserved

    def position(self, symbol: str) -> Position:
        position = self.positions.get(symbol)
        if position is None:
            position = self.positions[symbol] = Position()
        return position


def pack_rejection(order_id: int, reason: int, ts: int) -> int:
    """A rejected order as one negative int: all a retry of its client order id needs.

    The original's order id (< 2^64, as on the wire), reason (< 64) and time.
    One int instead of a whole Order: H2 of the 2026-12-05 review.
    """
    return -(((ts << 6 | reason) << 64) | order_id)


def unpack_rejection(packed: int) -> tuple[int, int, int]:
    """(order id, reason, ts) of a `pack_rejection` value."""
    value = -packed
    rest = value >> 64
    return value & 0xFFFF_FFFF_FFFF_FFFF, rest & 63, rest >> 6
