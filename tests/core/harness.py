"""A thin driver around ExchangeCore for readable scenario tests."""

from __future__ import annotations

from typing import Any

from exchange.core import (
    AddInstrument,
    CancelOrder,
    Deposit,
    ExchangeCore,
    NewOrder,
    OpenAccount,
    OpenSession,
    OrderType,
    Side,
    TimeInForce,
    Withdraw,
)
from exchange.core.events import AccountOpened, Event

SYMBOL = "FOOLAD"
OTHER = "KHODRO"


class Harness:
    """Applies commands with an increasing timestamp and keeps every event."""

    def __init__(self, core: ExchangeCore | None = None) -> None:
        self.core = core or ExchangeCore()
        self.ts = 1_000
        self.log: list[tuple[Any, list[Event]]] = []
        self._coid = 0

    def apply(self, command: Any) -> list[Event]:
        self.ts += 1
        events = self.core.apply(command, self.ts)
        self.log.append((command, events))
        return events

    def listing(self, symbol: str = SYMBOL, **kw: Any) -> list[Event]:
        fields = dict(
            name=symbol.title(),
            tick_size=10,
            lot_size=100,
            reference_price=10_000,
            max_order_quantity=100_000,
        )
        fields.update(kw)
        return self.apply(AddInstrument(symbol=symbol, **fields))

    def account(self, account: int, cash: int = 0, shares: dict[str, int] | None = None) -> None:
        """Open the core's next account, which must be `account` (open them in id order)."""
        opened = self.apply(OpenAccount(owner=f"owner-{account}"))
        assert opened == [AccountOpened(account=account)], opened
        if cash:
            self.apply(
                Deposit(
                    account=account, asset="IRR", amount=cash, reference=f"cash-{account}-{self.ts}"
                )
            )
        for symbol, quantity in (shares or {}).items():
            self.apply(
                Deposit(
                    account=account,
                    asset=symbol,
                    amount=quantity,
                    reference=f"sh-{account}-{symbol}-{self.ts}",
                )
            )

    def open(self, day: int = 20260103) -> list[Event]:
        return self.apply(OpenSession(trading_day=day))

    def order(
        self,
        account: int,
        side: str,
        quantity: int,
        price: int = 0,
        *,
        symbol: str = SYMBOL,
        tif: TimeInForce = TimeInForce.DAY,
        coid: str | None = None,
        market: bool | None = None,
    ) -> list[Event]:
        if coid is None:
            self._coid += 1
            coid = f"c{self._coid}"
        is_market = price == 0 if market is None else market
        return self.apply(
            NewOrder(
                account=account,
                client_order_id=coid,
                symbol=symbol,
                side=Side.BUY if side == "buy" else Side.SELL,
                order_type=OrderType.MARKET if is_market else OrderType.LIMIT,
                time_in_force=tif,
                price=price,
                quantity=quantity,
            )
        )

    def cancel(self, account: int, order_id: int = 0, coid: str = "") -> list[Event]:
        return self.apply(CancelOrder(account=account, order_id=order_id, client_order_id=coid))

    def withdraw(self, account: int, asset: str, amount: int, ref: str) -> list[Event]:
        return self.apply(Withdraw(account=account, asset=asset, amount=amount, reference=ref))

    # ---- views

    def cash(self, account: int) -> tuple[int, int]:
        a = self.core.accounts[account]
        return a.cash, a.cash_reserved

    def shares(self, account: int, symbol: str = SYMBOL) -> tuple[int, int]:
        p = self.core.accounts[account].positions.get(symbol)
        return (0, 0) if p is None else (p.total, p.reserved)

    def levels(self, side: str, symbol: str = SYMBOL) -> list[tuple[int, int]]:
        book = self.core.books[symbol]
        book_side = book.bids if side == "buy" else book.asks
        return [(lv.price, lv.quantity) for lv in book_side.levels_best_first()]

    def queue(self, side: str, price: int, symbol: str = SYMBOL) -> list[int]:
        book = self.core.books[symbol]
        level = (book.bids if side == "buy" else book.asks).levels[price]
        return [o.id for o in level.live_orders()]


def of_type(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if type(e) is kind]


def only(events: list[Event], kind: type) -> Any:
    found = of_type(events, kind)
    assert len(found) == 1, f"expected one {kind.__name__} in {events}"
    return found[0]


def standard(cash: int = 10**12, shares: int = 1_000_000) -> Harness:
    """Two instruments, four funded accounts (1-4), session open."""
    h = Harness()
    h.listing(SYMBOL)
    h.listing(OTHER, reference_price=50_000, tick_size=50)
    for account in (1, 2, 3, 4):
        h.account(account, cash=cash, shares={SYMBOL: shares, OTHER: shares})
    h.open()
    return h
