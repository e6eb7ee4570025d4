"""One account's order ids, kept sorted overall and per symbol, for paged listings.

Why (security review L8): `GET /v1/orders` used to build and sort every open
and retained order of the account on each call before cutting the page, so
a request's cost grew with the account (10^5 resting orders: milliseconds a
request, at up to 200 requests a second per address). With the ids kept in
order as events arrive (O(log n) each), a page of `limit` orders after a
cursor costs O(log n + limit), whatever the account holds. Pure.
"""

from collections.abc import Iterator
from itertools import islice

from sortedcontainers import SortedList


class OrderIndex:
    """Order ids, ascending, overall and per symbol."""

    __slots__ = ("by_symbol", "ids")

    def __init__(self) -> None:
        self.ids = SortedList()
        self.by_symbol: dict[str, SortedList] = {}

    def add(self, order_id: int, symbol: str) -> None:
        if order_id in self.ids:
            return
        self.ids.add(order_id)
        per_symbol = self.by_symbol.get(symbol)
        if per_symbol is None:
            per_symbol = self.by_symbol[symbol] = SortedList()
        per_symbol.add(order_id)

    def discard(self, order_id: int, symbol: str) -> None:
        self.ids.discard(order_id)
        per_symbol = self.by_symbol.get(symbol)
        if per_symbol is not None:
            per_symbol.discard(order_id)
            if not per_symbol:
                del self.by_symbol[symbol]

    def page(
        self, limit: int, *, after: int | None = None, symbol: str | None = None,
        newest_first: bool = False,
    ) -> list[int]:  # fmt: skip
        """At most `limit` ids past the cursor `after` (exclusive), in the order asked for."""
        ids = self.ids if symbol is None else self.by_symbol.get(symbol)
        if not ids:
            return []
        if newest_first:
            found = (
                reversed(ids)
                if after is None
                else ids.irange(maximum=after, inclusive=(True, False), reverse=True)
            )
        else:
            found = (
                iter(ids) if after is None else ids.irange(minimum=after, inclusive=(False, True))
            )
        return list(islice(found, limit))

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def __contains__(self, order_id: int) -> bool:
        return order_id in self.ids

    def __len__(self) -> int:
        return len(self.ids)
