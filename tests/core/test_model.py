"""Hypothesis stateful test: the core against a tiny reference model.

The model is written in a different shape on purpose: the book is one list in
arrival order, matching sorts it for every order, and reservations are not
counters but sums recomputed from the open orders. After every command the
core's events must match the model's, and the invariants must hold: the book
is not crossed, cash and shares are conserved, 0 <= reserved <= total, no
risk counter exceeds its limit, and no balance passes MAX_BALANCE (deposits
near the bound make the core refuse orders whose fills could pass it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from exchange.core import (
    CancelOrder,
    CloseSession,
    Deposit,
    NewOrder,
    OpenSession,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
    Withdraw,
    encode,
    restore,
)
from exchange.core.enums import CancelReason
from exchange.core.events import (
    BalanceChanged,
    CancelRejected,
    CommandRejected,
    Fill,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
)
from exchange.core.instrument import price_band
from exchange.core.machine import MAX_AMOUNT, MAX_BALANCE
from tests.core.harness import SYMBOL, Harness

ACCOUNTS = (1, 2, 3)
LIMIT = 4_000
LOW, HIGH, TICK, LOT = 9_500, 10_500, 10, 100
PRICES = st.one_of(
    st.integers(995, 1_005).map(lambda p: p * TICK),  # near the touch: orders cross often
    st.integers(LOW // TICK - 5, HIGH // TICK + 5).map(lambda p: p * TICK),
)


@dataclass
class ModelOrder:
    id: int
    account: int
    side: Side
    price: int  # 0 for market
    leaves: int
    reserve: int  # cash per share reserved by a buy
    tif: TimeInForce
    credit: int = 0  # the most cash per share a sell can bring in


class Model:
    def __init__(self) -> None:
        self.cash = dict.fromkeys(ACCOUNTS, 0)
        self.shares = dict.fromkeys(ACCOUNTS, 0)
        self.filled = dict.fromkeys(ACCOUNTS, 0)
        self.book: list[ModelOrder] = []  # resting, in arrival order
        self.next_id = 1
        self.open = False
        self.low, self.high = LOW, HIGH
        self.last_price = 0

    def reserved_cash(self, account: int) -> int:
        return sum(o.reserve * o.leaves for o in self.book if o.account == account)

    def reserved_shares(self, account: int) -> int:
        return sum(o.leaves for o in self.book if o.account == account and o.side is Side.SELL)

    def open_quantity(self, account: int) -> int:
        return sum(o.leaves for o in self.book if o.account == account)

    def incoming(self, account: int) -> int:
        return sum(o.credit * o.leaves for o in self.book if o.account == account)

    def room(self, account: int, asset: str) -> int:
        """How much more the account may be credited under MAX_BALANCE, counting open orders."""
        if asset == "IRR":
            return MAX_BALANCE - self.cash[account] - self.incoming(account)
        return MAX_BALANCE - self.shares[account] - self.open_quantity(account)

    def close(self) -> None:
        """DAY orders expire; the reference price (and so the band) rolls to the last trade."""
        self.book = [o for o in self.book if o.tif is not TimeInForce.DAY]
        self.open = False
        if self.last_price:
            self.low, self.high = price_band(self.last_price, 500, TICK)

    def new_order(
        self, account: int, side: Side, market: bool, tif: TimeInForce, price: int, qty: int
    ) -> tuple:
        order_id = self.next_id
        self.next_id += 1
        reserve = (self.high if market else price) if side is Side.BUY else 0
        if not self.open:
            return ("rejected", RejectReason.MARKET_CLOSED)
        if not market and not self.low <= price <= self.high:
            return ("rejected", RejectReason.PRICE_OUT_OF_BAND)
        if self.filled[account] + self.open_quantity(account) + qty > LIMIT:
            return ("rejected", RejectReason.RISK_LIMIT)
        if side is Side.BUY and self.cash[account] - self.reserved_cash(account) < reserve * qty:
            return ("rejected", RejectReason.INSUFFICIENT_FUNDS)
        if side is Side.SELL and self.shares[account] - self.reserved_shares(account) < qty:
            return ("rejected", RejectReason.INSUFFICIENT_SHARES)
        bids = [o.price for o in self.book if o.side is Side.BUY]
        credit = max([self.high, *bids]) if side is Side.SELL else 0
        if qty * (credit or 1) > self.room(account, "IRR" if credit else SYMBOL):
            return ("rejected", RejectReason.BALANCE_LIMIT)
        limit = price if not market else (self.high if side is Side.BUY else self.low)
        order = ModelOrder(order_id, account, side, price, qty, reserve, tif, credit)

        def crosses(o: ModelOrder) -> bool:
            return o.price <= limit if side is Side.BUY else o.price >= limit

        opposite = [o for o in self.book if o.side is not side and crosses(o)]
        if side is Side.BUY:
            opposite.sort(key=lambda o: o.price)  # stable: arrival order within a price
        else:
            opposite.sort(key=lambda o: -o.price)
        if tif is TimeInForce.FOK:
            available = 0
            for o in opposite:
                if o.account == account:
                    break
                available += o.leaves
            if available < qty:
                return ("accepted", [], CancelReason.FOK_UNFILLABLE)
        fills = []
        stopped = False
        for o in opposite:
            if order.leaves == 0:
                break
            if o.account == account:
                stopped = True
                break
            n = min(o.leaves, order.leaves)
            buyer, seller = (account, o.account) if side is Side.BUY else (o.account, account)
            self.cash[buyer] -= n * o.price
            self.cash[seller] += n * o.price
            self.shares[buyer] += n
            self.shares[seller] -= n
            self.filled[buyer] += n
            self.filled[seller] += n
            o.leaves -= n
            order.leaves -= n
            fills.append((order_id, o.id, o.price, n))
            self.last_price = o.price
        self.book = [o for o in self.book if o.leaves]
        if order.leaves == 0:
            return ("accepted", fills, None)
        if stopped:
            return ("accepted", fills, CancelReason.SELF_TRADE)
        if market:
            reason = CancelReason.MARKET_REMAINDER if fills else CancelReason.NO_LIQUIDITY
            return ("accepted", fills, reason)
        if tif is TimeInForce.IOC:
            return ("accepted", fills, CancelReason.IOC_REMAINDER)
        self.book.append(order)
        return ("accepted", fills, None)


def summarize(events: list) -> tuple:
    """The core's events in the model's vocabulary."""
    kinds = [type(e) for e in events]
    if OrderRejected in kinds:
        return ("rejected", events[0].reason)
    fills = [e for e in events if type(e) is Fill]
    pairs = [
        (a.order_id, b.order_id, a.price, a.quantity)
        for a, b in zip(fills[::2], fills[1::2], strict=True)
    ]
    canceled = [e.reason for e in events if type(e) is OrderCanceled]
    return ("accepted", pairs, canceled[0] if canceled else None)


class CoreVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness()
        self.h.listing(SYMBOL, daily_limit=LIMIT)
        self.model = Model()
        self.deposited_cash = 0
        self.deposited_shares = 0
        self.ref = 0
        self.day = 20260103
        for account in ACCOUNTS:
            self.h.account(account)
            self._move(account, "IRR", 60_000_000, deposit=True)
            self._move(account, SYMBOL, 3_000, deposit=True)
        self.h.open(self.day)
        self.model.open = True

    def _move(self, account: int, asset: str, amount: int, deposit: bool) -> None:
        self.ref += 1
        command = (Deposit if deposit else Withdraw)(
            account=account, asset=asset, amount=amount, reference=f"r{self.ref}"
        )
        events = self.h.apply(command)
        available = (
            self.model.cash[account] - self.model.reserved_cash(account)
            if asset == "IRR"
            else self.model.shares[account] - self.model.reserved_shares(account)
        )
        if deposit and amount > self.model.room(account, asset):
            assert events[0].reason is RejectReason.BALANCE_LIMIT, events
        elif deposit or amount <= available:
            assert type(events[0]) is BalanceChanged, events
            sign = 1 if deposit else -1
            if asset == "IRR":
                self.model.cash[account] += sign * amount
                self.deposited_cash += sign * amount
            else:
                self.model.shares[account] += sign * amount
                self.deposited_shares += sign * amount
        else:
            assert type(events[0]) is CommandRejected, events

    @rule(
        account=st.sampled_from(ACCOUNTS),
        amount=st.integers(1, 40).map(lambda k: k * 1_000_000),
        deposit=st.booleans(),
    )
    def move_cash(self, account: int, amount: int, deposit: bool) -> None:
        self._move(account, "IRR", amount, deposit)

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(1, 30), deposit=st.booleans())
    def move_shares(self, account: int, amount: int, deposit: bool) -> None:
        self._move(account, SYMBOL, amount * LOT, deposit)

    @rule(
        account=st.sampled_from(ACCOUNTS),
        asset=st.sampled_from(["IRR", SYMBOL]),
        gap=st.integers(-3, 40),
    )
    def deposit_up_to_the_bound(self, account: int, asset: str, gap: int) -> None:
        """Deposit until the room under MAX_BALANCE is `gap` units (past it when negative)."""
        unit = 1_000_000 if asset == "IRR" else LOT
        for _ in range(6):
            room = self.model.room(account, asset)
            amount = min(MAX_AMOUNT, room - gap * unit)
            if amount <= 0:
                break
            self._move(account, asset, amount, deposit=True)
            if amount > room:
                break

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from([Side.BUY, Side.SELL]),
        market=st.booleans(),
        tif=st.sampled_from(list(TimeInForce)),
        price=PRICES,
        lots=st.integers(1, 12),
    )
    def new_order(
        self, account: int, side: Side, market: bool, tif: TimeInForce, price: int, lots: int
    ) -> None:
        qty = lots * LOT
        price = 0 if market else price
        events = self.h.apply(
            NewOrder(
                account=account,
                client_order_id=f"o{self.model.next_id}",
                symbol=SYMBOL,
                side=side,
                order_type=OrderType.MARKET if market else OrderType.LIMIT,
                time_in_force=tif,
                price=price,
                quantity=qty,
            )
        )
        expected = self.model.new_order(account, side, market, tif, price, qty)
        assert summarize(events) == expected

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        known = list(self.h.core.orders)
        if not known:
            return
        order_id = data.draw(st.sampled_from(known))
        owner = self.h.core.orders[order_id].account
        account = data.draw(st.sampled_from([owner, *ACCOUNTS]))
        events = self.h.apply(CancelOrder(account=account, order_id=order_id))
        resting = next((o for o in self.model.book if o.id == order_id), None)
        if resting is not None and account == owner:
            assert type(events[0]) is OrderCanceled
            assert events[0].canceled_quantity == resting.leaves
            self.model.book.remove(resting)
        else:
            assert type(events[0]) is CancelRejected

    @rule(next_day=st.booleans())
    def end_of_day(self, next_day: bool) -> None:
        """Close (DAY orders expire, the band rolls), then reopen the same or the next day."""
        events = self.h.apply(CloseSession())
        expired = [e.order_id for e in events if type(e) is OrderExpired]
        model_expired = [o.id for o in self.model.book if o.tif is TimeInForce.DAY]
        assert expired == sorted(model_expired)
        self.model.close()
        if next_day:
            following = date(self.day // 10_000, self.day // 100 % 100, self.day % 100)
            following += timedelta(days=1)
            self.day = int(following.strftime("%Y%m%d"))
            self.model.filled = dict.fromkeys(ACCOUNTS, 0)
        events = self.h.apply(OpenSession(trading_day=self.day))
        assert type(events[0]).__name__ == "SessionOpened"
        self.model.open = True

    @rule()
    def snapshot_round_trip(self) -> None:
        """A restored core is indistinguishable from the original, and keeps running."""
        payload = encode(self.h.core)
        restored = restore(payload)
        assert encode(restored) == payload
        self.h.core = restored

    @invariant()
    def book_not_crossed(self) -> None:
        assert not self.h.core.books[SYMBOL].is_crossed()

    @invariant()
    def resting_orders_match_the_model(self) -> None:
        book = self.h.core.books[SYMBOL]
        for side, book_side in ((Side.BUY, book.bids), (Side.SELL, book.asks)):
            got = [
                (o.id, o.leaves) for lv in book_side.levels_best_first() for o in lv.live_orders()
            ]
            model = [o for o in self.model.book if o.side is side]
            model.sort(key=lambda o: -o.price if side is Side.BUY else o.price)
            assert got == [(o.id, o.leaves) for o in model]
            for level in book_side.levels.values():
                assert level.quantity == sum(o.leaves for o in level.live_orders())
                assert level.count == len(list(level.live_orders())) > 0

    @invariant()
    def wallets_conserved_and_reservations_exact(self) -> None:
        accounts = self.h.core.accounts
        assert sum(a.cash for a in accounts.values()) == self.deposited_cash
        assert sum(
            a.positions[SYMBOL].total for a in accounts.values() if SYMBOL in a.positions
        ) == (self.deposited_shares)
        for account_id in ACCOUNTS:
            account = accounts[account_id]
            assert account.cash == self.model.cash[account_id]
            assert account.cash + account.cash_incoming <= MAX_BALANCE
            assert account.cash_incoming == self.model.incoming(account_id)
            assert 0 <= account.cash_reserved <= account.cash
            assert account.cash_reserved == self.model.reserved_cash(account_id)
            position = account.positions.get(SYMBOL)
            if position is not None:
                assert position.total == self.model.shares[account_id]
                assert 0 <= position.reserved <= position.total
                assert position.reserved == self.model.reserved_shares(account_id)
                assert position.open_quantity == self.model.open_quantity(account_id)
                mine = [o for o in self.model.book if o.account == account_id]
                buying = sum(o.leaves for o in mine if o.side is Side.BUY)
                assert position.total + buying <= MAX_BALANCE
                assert position.filled_today + position.open_quantity <= LIMIT


TestCoreVersusModel = CoreVersusModel.TestCase
TestCoreVersusModel.settings = settings(
    max_examples=200,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
