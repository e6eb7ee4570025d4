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
        "positions",
        "status",
    )

    def __init__(self, account_id: int) -> None:
        self.id = account_id
        self.status = AccountStatus.OPEN
        self.cash = 0
        self.cash_reserved = 0
        self.cash_incoming = 0
        """The most cash this account's open sell orders can still bring in (their
        `reserve_price` x leaves): with `cash`, kept at or under MAX_BALANCE."""
        self.positions: dict[str, Position] = {}
        self.orders_by_client_id: dict[str, int] = {}

    @property
    def cash_available(self) -> int:
        return self.cash - self.cash_reserved

    def position(self, symbol: str) -> Position:
        position = self.positions.get(symbol)
        if position is None:
            position = self.positions[symbol] = Position()
        return position
