"""Read-only queries the engine answers between batches, never journaled.

Balances depend on the core's reservation rules (a buy reserves its limit,
a market buy the band's upper price), so gateways ask the engine instead of
re-deriving them from events. A query is answered on the engine thread
between two batches, when everything applied is already durable, so it never
shows state that a crash could take back. Queries are cheap (one account's
positions) and gateways rate-limit them.
"""

import msgspec

from exchange.core import ExchangeCore


class AccountQuery(msgspec.Struct, array_like=True, gc=False, tag_field="t", tag=50):
    account: int


class PositionState(msgspec.Struct, array_like=True, gc=False):
    symbol: str
    total: int
    available: int


class AccountState(msgspec.Struct, array_like=True, gc=False):
    account: int
    status: int
    """An AccountStatus value."""
    cash: int
    cash_available: int
    positions: list[PositionState]


Query = AccountQuery


def answer(core: ExchangeCore, query: Query) -> AccountState | None:
    """The account's balances, or None if it does not exist."""
    account = core.accounts.get(query.account)
    if account is None:
        return None
    positions = [
        PositionState(symbol, p.total, p.total - p.reserved)
        for symbol, p in sorted(account.positions.items())
        if p.total or p.reserved
    ]
    return AccountState(
        account.id,
        int(account.status),
        account.cash,
        account.cash - account.cash_reserved,
        positions,
    )
