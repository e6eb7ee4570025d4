"""The exchange core: a pure state machine, `apply(command, ts) -> events`.

Order manager (validation, risk, wallet) and matching engine in one object,
driven by one thread. It does no I/O, reads no clock (the sequencer's
timestamp `ts`, epoch nanoseconds, is the only time it sees), uses no
randomness and iterates only over insertion-ordered structures, so the same
commands always produce the same events and the same state.

Every handler validates completely before it mutates anything: a rejected
command changes nothing and yields one typed reason.
"""

from collections.abc import Callable
from typing import Any, Final

from exchange.core.book import Book, BookSide
from exchange.core.commands import (
    CASH_ASSET,
    AddInstrument,
    CancelOrder,
    CloseSession,
    Command,
    Deposit,
    NewOrder,
    OpenAccount,
    OpenAccountV1,
    OpenSession,
    SetAccountStatus,
    SetInstrumentStatus,
    Withdraw,
)
from exchange.core.enums import (
    AccountStatus,
    CancelReason,
    InstrumentStatus,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from exchange.core.events import (
    AccountOpened,
    AccountStatusChanged,
    BalanceChanged,
    CancelRejected,
    CommandRejected,
    DuplicateOrder,
    Event,
    Fill,
    InstrumentAdded,
    InstrumentStatusChanged,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    ReferencePriceChanged,
    SessionClosed,
    SessionOpened,
)
from exchange.core.instrument import BPS, Instrument
from exchange.core.order import Order
from exchange.core.wallet import Account, Position, pack_rejection, unpack_rejection

MAX_CLIENT_ORDER_ID_LENGTH: Final = 64
MAX_REFERENCE_LENGTH: Final = 64
MAX_SYMBOL_LENGTH: Final = 12
MAX_AMOUNT: Final = 10**18
"""Upper bound for one deposit or withdrawal, an order's quantity and a listing's notional."""
MAX_REJECTED_ORDERS: Final = 10_000
"""Rejected orders kept (for idempotency) per account per trading day. Past it an order
that would be rejected is refused with REJECTION_LIMIT and nothing is kept, so rejections
cannot grow memory without bound (orders that pass every check are still accepted). The
trading day comes from sequenced OpenSession commands, so every gateway is bound by it
and every replay counts the same."""
MAX_BALANCE: Final = 2**62
"""Upper bound for any cash balance or position, including what open orders may still
bring in: half of the 64-bit signed range, so every total, reservation and notional the
core computes fits msgpack, the journal and the reporter's BIGINT columns with room."""

_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
_LIMIT: Final = OrderType.LIMIT
_MARKET: Final = OrderType.MARKET
_DAY: Final = TimeInForce.DAY
_GTC: Final = TimeInForce.GTC
_IOC: Final = TimeInForce.IOC
_FOK: Final = TimeInForce.FOK
_NEW: Final = OrderStatus.NEW
_PARTIAL: Final = OrderStatus.PARTIALLY_FILLED
_FILLED: Final = OrderStatus.FILLED
_CANCELED: Final = OrderStatus.CANCELED
_REJECTED: Final = OrderStatus.REJECTED
_EXPIRED: Final = OrderStatus.EXPIRED
_OPEN: Final = AccountStatus.OPEN
_ACTIVE: Final = InstrumentStatus.ACTIVE
_USER: Final = CancelReason.USER
_SIDES: Final = (_BUY, _SELL)
_TIFS: Final = (_DAY, _GTC, _IOC, _FOK)

R = RejectReason

_Handler = Callable[[Any, int, list[Event]], None]


def identifier(text: str, max_length: int = MAX_CLIENT_ORDER_ID_LENGTH) -> bool:
    """1 to `max_length` printable ASCII characters, no space (0x21-0x7e).

    Client order ids and references travel into FIX frames, PostgreSQL text
    columns and logs: no NUL, SOH or other control character may pass.
    """
    return 0 < len(text) <= max_length and text.isascii() and text.isprintable() and " " not in text


def valid_symbol(symbol: str) -> bool:
    """1 to MAX_SYMBOL_LENGTH characters of A-Z and 0-9, as every listing must be."""
    return (
        0 < len(symbol) <= MAX_SYMBOL_LENGTH
        and symbol.isascii()
        and symbol.isalnum()
        and symbol.upper() == symbol
    )


def _shown(text: str) -> str:
    """`text` if it is safe to echo in an event (a rejection of it), else ""."""
    return text if identifier(text) else ""


def _credit_price(instrument: Instrument) -> int:
    """The most a sell order entering now can be paid per share.

    The band's upper price, or a resting bid above it (a GTC bid of an
    earlier day, when the band has moved down since): a sell trades at the
    bids it crosses, and once it rests, at its own price, which is in the band.
    """
    high = instrument.high_price
    keys = instrument.book.bids.keys
    return keys[-1] if keys and keys[-1] > high else high


def _valid_trading_day(day: int) -> bool:
    """YYYYMMDD with a plausible month and day (the calendar outside owns real dates)."""
    year, rest = divmod(day, 10_000)
    month, dom = divmod(rest, 100)
    return 1900 <= year <= 9999 and 1 <= month <= 12 and 1 <= dom <= 31


class ExchangeCore:
    """All state of the exchange that trading decisions depend on."""

    def __init__(self) -> None:
        self.instruments: dict[str, Instrument] = {}
        self.books: dict[str, Book] = {}
        self.accounts: dict[int, Account] = {}
        self.orders: dict[int, Order] = {}
        """Every accepted order of the current trading day, and live orders of earlier days.
        Rejected orders are not here: see `Account.orders_by_client_id`."""
        self.references: dict[str, None] = {}
        """External references of applied deposits and withdrawals (insertion-ordered set)."""
        self.trading_day = 0
        self.session_open = False
        self.next_order_id = 1
        self.next_trade_id = 1
        self.next_account_id = 1
        """The id OpenAccount gives next: above every account, so no id is given twice."""
        self.owners: dict[str, int] = {}
        """Owner reference -> the account opened for it (see OpenAccount)."""
        self._handlers: dict[type, _Handler] = {
            NewOrder: self._new_order,
            CancelOrder: self._cancel_order,
            AddInstrument: self._add_instrument,
            SetInstrumentStatus: self._set_instrument_status,
            OpenAccount: self._open_account,
            OpenAccountV1: self._open_account_v1,
            SetAccountStatus: self._set_account_status,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            OpenSession: self._open_session,
            CloseSession: self._close_session,
        }

    # ------------------------------------------------------------------ entry

    def apply(self, command: Command, ts: int) -> list[Event]:
        """Apply one sequenced command stamped with time `ts`; return its events."""
        out: list[Event] = []
        kind = type(command)
        if kind is NewOrder:  # the hot paths skip the dispatch table
            self._new_order(command, ts, out)  # type: ignore[arg-type]
            return out
        if kind is CancelOrder:
            self._cancel_order(command, ts, out)  # type: ignore[arg-type]
            return out
        handler = self._handlers.get(type(command))
        if handler is None:
            out.append(CommandRejected(reason=R.UNKNOWN_COMMAND, detail=type(command).__name__))
        else:
            handler(command, ts, out)
        return out

    # ----------------------------------------------------------------- orders

    def _new_order(self, cmd: NewOrder, ts: int, out: list[Event]) -> None:
        account = self.accounts.get(cmd.account)
        coid = cmd.client_order_id
        if account is None or not (
            0 < len(coid) <= MAX_CLIENT_ORDER_ID_LENGTH
            and coid.isascii()
            and coid.isprintable()
            and " " not in coid
        ):
            reason = R.UNKNOWN_ACCOUNT if account is None else R.INVALID_CLIENT_ORDER_ID
            out.append(self._order_rejected(0, cmd, reason, ts))
            return
        original_id = account.orders_by_client_id.get(coid)
        if original_id is not None:
            if original_id > 0:
                out.append(self._duplicate(self.orders[original_id], ts))
            else:
                out.append(self._duplicate_rejection(cmd, original_id))
            return
        instrument = self.instruments.get(cmd.symbol)
        if instrument is None and not valid_symbol(cmd.symbol):
            out.append(self._order_rejected(0, cmd, R.INVALID_SYMBOL, ts))
            return
        position = account.positions.get(cmd.symbol)
        problem = self._check_order(cmd, account, instrument, position)
        if problem is not None or instrument is None:
            self._reject(cmd, account, problem or R.UNKNOWN_SYMBOL, ts, out)
            return
        order_id = self.next_order_id
        self.next_order_id = order_id + 1
        self._accept(cmd, order_id, account, instrument, position, ts, out)

    def _reject(
        self, cmd: NewOrder, account: Account, reason: RejectReason, ts: int, out: list[Event]
    ) -> None:
        """Reject a well-formed order, keeping only what idempotency needs.

        It gets an order id, and one int under its client order id (so a retry
        answers as a duplicate with the same reason), up to MAX_REJECTED_ORDERS
        per account per trading day; past that it is refused with
        REJECTION_LIMIT and nothing is kept, so memory stays bounded.
        """
        if account.rejected_today >= MAX_REJECTED_ORDERS:
            out.append(self._order_rejected(0, cmd, R.REJECTION_LIMIT, ts))
            return
        order_id = self.next_order_id
        self.next_order_id = order_id + 1
        account.orders_by_client_id[cmd.client_order_id] = pack_rejection(order_id, reason, ts)
        account.rejected_today += 1
        out.append(self._order_rejected(order_id, cmd, reason, ts))

    def _check_order(
        self,
        cmd: NewOrder,
        account: Account,
        instrument: Instrument | None,
        position: Position | None,
    ) -> RejectReason | None:
        """The first rule the order breaks, or None. Reads state, changes nothing."""
        if account.status is not _OPEN:
            return R.ACCOUNT_NOT_OPEN
        if instrument is None:
            return R.UNKNOWN_SYMBOL
        side = cmd.side
        if side not in _SIDES:
            return R.INVALID_SIDE
        order_type = cmd.order_type
        if order_type != _LIMIT and order_type != _MARKET:
            return R.INVALID_ORDER_TYPE
        if cmd.time_in_force not in _TIFS:
            return R.INVALID_TIME_IN_FORCE
        quantity = cmd.quantity
        if quantity <= 0 or quantity % instrument.lot_size:
            return R.INVALID_QUANTITY
        if quantity > instrument.max_order_quantity:
            return R.QUANTITY_ABOVE_MAX
        price = cmd.price
        if order_type == _LIMIT:
            if price <= 0 or price % instrument.tick_size:
                return R.INVALID_PRICE
        elif price != 0:
            return R.INVALID_PRICE
        if not self.session_open:
            return R.MARKET_CLOSED
        if instrument.status is not _ACTIVE:
            return R.INSTRUMENT_HALTED
        if order_type == _LIMIT and (price < instrument.low_price or price > instrument.high_price):
            return R.PRICE_OUT_OF_BAND
        if position is not None:
            used = position.filled_today + position.open_quantity
            if used + quantity > instrument.daily_limit:
                return R.RISK_LIMIT
        elif quantity > instrument.daily_limit:
            return R.RISK_LIMIT
        if side == _BUY:
            reserve_price = price if order_type == _LIMIT else instrument.high_price
            if account.cash - account.cash_reserved < reserve_price * quantity:
                return R.INSUFFICIENT_FUNDS
            if position is not None and (
                position.total + position.open_quantity + quantity > MAX_BALANCE
            ):
                return R.BALANCE_LIMIT
        elif position is None or position.total - position.reserved < quantity:
            return R.INSUFFICIENT_SHARES
        elif (
            account.cash + account.cash_incoming + _credit_price(instrument) * quantity
            > MAX_BALANCE
        ):
            return R.BALANCE_LIMIT
        return None

    def _accept(
        self,
        cmd: NewOrder,
        order_id: int,
        account: Account,
        instrument: Instrument,
        position: Position | None,
        ts: int,
        out: list[Event],
    ) -> None:
        symbol = cmd.symbol
        side = cmd.side
        order_type = cmd.order_type
        tif = cmd.time_in_force
        price = cmd.price
        quantity = cmd.quantity
        order = Order(
            order_id,
            account.id,
            cmd.client_order_id,
            symbol,
            side,
            order_type,
            tif,
            price,
            quantity,
            ts,
            quantity,
        )
        self.orders[order_id] = order
        account.orders_by_client_id[cmd.client_order_id] = order_id
        if position is None:
            position = account.positions[symbol] = Position()
        position.open_quantity += quantity
        if side == _BUY:
            reserve_price = price if order_type == _LIMIT else instrument.high_price
            order.reserve_price = reserve_price
            account.cash_reserved += reserve_price * quantity
            limit = price if order_type == _LIMIT else instrument.high_price
        else:
            position.reserved += quantity
            credit_price = _credit_price(instrument)
            order.reserve_price = credit_price
            account.cash_incoming += credit_price * quantity
            limit = price if order_type == _LIMIT else instrument.low_price
        out.append(
            OrderAccepted(
                order_id=order_id,
                account=account.id,
                client_order_id=cmd.client_order_id,
                symbol=symbol,
                side=side,
                order_type=order_type,
                time_in_force=tif,
                price=price,
                quantity=quantity,
                ts=ts,
            )
        )
        book = instrument.book
        opposite = book.asks if side == _BUY else book.bids
        if tif == _FOK and not self._fillable(opposite, side, limit, quantity, account.id):
            self._end_remainder(order, account, position, CancelReason.FOK_UNFILLABLE, ts, out)
            return
        self_trade = False
        keys = opposite.keys
        if keys and (-keys[-1] <= limit if side == _BUY else keys[-1] >= limit):
            # It crosses the best opposite price (ask keys are negated prices).
            self_trade = self._match(order, account, position, instrument, opposite, limit, ts, out)
        if order.leaves:
            if self_trade:
                reason = CancelReason.SELF_TRADE
            elif order_type == _MARKET:
                reason = CancelReason.MARKET_REMAINDER if order.cum else CancelReason.NO_LIQUIDITY
            elif tif == _IOC:
                reason = CancelReason.IOC_REMAINDER
            else:
                (book.bids if side == _BUY else book.asks).add(order)
                return
            self._end_remainder(order, account, position, reason, ts, out)

    @staticmethod
    def _fillable(opposite: BookSide, side: Side, limit: int, quantity: int, account: int) -> bool:
        """Whether matching would fill `quantity` in full (for FOK), stopping where it would."""
        available = 0
        for level in opposite.levels_best_first():
            if (level.price > limit) if side == _BUY else (level.price < limit):
                return False
            for resting in level.orders:
                if not resting.leaves:
                    continue
                if resting.account == account:
                    return False
                available += resting.leaves
                if available >= quantity:
                    return True
        return False

    def _match(
        self,
        order: Order,
        account: Account,
        position: Position,
        instrument: Instrument,
        opposite: BookSide,
        limit: int,
        ts: int,
        out: list[Event],
    ) -> bool:
        """Trade `order` against the opposite side in price-time priority.

        Settles every fill at once in both wallets. Returns True when it
        stopped at a resting order of the same account (self-trade prevention).
        """
        is_buy = order.side == _BUY
        keys = opposite.keys
        levels = opposite.levels
        sign = opposite.sign
        accounts = self.accounts
        symbol = order.symbol
        order_id = order.id
        account_id = account.id
        remaining = order.leaves
        cum = order.cum
        trade_id = self.next_trade_id
        self_trade = False
        append = out.append
        while keys:
            level_price = keys[-1] * sign
            if (level_price > limit) if is_buy else (level_price < limit):
                break
            level = levels[level_price]
            queue = level.orders
            while queue:
                resting = queue[0]
                resting_leaves = resting.leaves
                if not resting_leaves:
                    queue.popleft()
                    level.dead -= 1
                    continue
                if resting.account == account_id:
                    self_trade = True
                    break
                n = resting_leaves if resting_leaves <= remaining else remaining
                notional = level_price * n
                counter = accounts[resting.account]
                counter_position = counter.positions[symbol]
                if is_buy:
                    account.cash -= notional
                    account.cash_reserved -= order.reserve_price * n
                    position.total += n
                    counter.cash += notional
                    counter.cash_incoming -= resting.reserve_price * n
                    counter_position.total -= n
                    counter_position.reserved -= n
                else:
                    account.cash += notional
                    account.cash_incoming -= order.reserve_price * n
                    position.total -= n
                    position.reserved -= n
                    counter.cash -= notional
                    counter.cash_reserved -= resting.reserve_price * n
                    counter_position.total += n
                position.filled_today += n
                position.open_quantity -= n
                counter_position.filled_today += n
                counter_position.open_quantity -= n
                remaining -= n
                cum += n
                resting_leaves -= n
                resting.leaves = resting_leaves
                resting.cum += n
                level.quantity -= n
                if resting_leaves:
                    resting.status = _PARTIAL
                else:
                    resting.status = _FILLED
                    queue.popleft()
                    level.count -= 1
                append(
                    Fill(
                        trade_id=trade_id,
                        order_id=order_id,
                        account=account_id,
                        symbol=symbol,
                        side=order.side,
                        price=level_price,
                        quantity=n,
                        leaves_quantity=remaining,
                        cum_quantity=cum,
                        aggressor=True,
                        ts=ts,
                    )
                )
                append(
                    Fill(
                        trade_id=trade_id,
                        order_id=resting.id,
                        account=resting.account,
                        symbol=symbol,
                        side=resting.side,
                        price=level_price,
                        quantity=n,
                        leaves_quantity=resting_leaves,
                        cum_quantity=resting.cum,
                        aggressor=False,
                        ts=ts,
                    )
                )
                trade_id += 1
                instrument.last_price = level_price
                if not remaining:
                    break
            if not level.count:
                opposite.remove_level(level)
            if self_trade or not remaining:
                break
        self.next_trade_id = trade_id
        order.leaves = remaining
        order.cum = cum
        if cum:
            order.status = _PARTIAL if remaining else _FILLED
        return self_trade

    def _end_remainder(
        self,
        order: Order,
        account: Account,
        position: Position,
        reason: CancelReason,
        ts: int,
        out: list[Event],
        expire: bool = False,
    ) -> None:
        """Release what the unfilled rest of `order` reserved and close it."""
        leaves = order.leaves
        if order.side == _BUY:
            account.cash_reserved -= order.reserve_price * leaves
        else:
            position.reserved -= leaves
            account.cash_incoming -= order.reserve_price * leaves
        position.open_quantity -= leaves
        order.leaves = 0
        if expire:
            order.status = _EXPIRED
            out.append(
                OrderExpired(
                    order_id=order.id,
                    account=order.account,
                    symbol=order.symbol,
                    side=order.side,
                    price=order.price,
                    expired_quantity=leaves,
                    cum_quantity=order.cum,
                    ts=ts,
                )
            )
        else:
            order.status = _CANCELED
            out.append(
                OrderCanceled(
                    order_id=order.id,
                    account=order.account,
                    symbol=order.symbol,
                    side=order.side,
                    price=order.price,
                    canceled_quantity=leaves,
                    cum_quantity=order.cum,
                    reason=reason,
                    ts=ts,
                )
            )

    def _remove_resting(
        self, order: Order, reason: CancelReason, ts: int, out: list[Event], expire: bool = False
    ) -> None:
        """Take a resting order out of its book, then release it."""
        self.books[order.symbol].side(order.side).unlink(order, order.leaves)
        account = self.accounts[order.account]
        self._end_remainder(
            order, account, account.positions[order.symbol], reason, ts, out, expire
        )

    def _cancel_order(self, cmd: CancelOrder, ts: int, out: list[Event]) -> None:
        account = self.accounts.get(cmd.account)
        if account is not None:  # the common case first, with as few calls as possible
            order = self.orders.get(
                cmd.order_id or account.orders_by_client_id.get(cmd.client_order_id, 0)
            )
            if order is not None and order.account == account.id:
                status = order.status
                if status is _NEW or status is _PARTIAL:
                    symbol = order.symbol
                    book = self.instruments[symbol].book
                    (book.bids if order.side == _BUY else book.asks).unlink(order, order.leaves)
                    position = account.positions[symbol]
                    self._end_remainder(order, account, position, _USER, ts, out)
                    return
        reason = R.UNKNOWN_ACCOUNT
        if account is not None:
            order_id = cmd.order_id or account.orders_by_client_id.get(cmd.client_order_id, 0)
            found = self.orders.get(order_id)
            if order_id < 0:  # a rejected order, kept by client order id only
                reason = R.ORDER_FINAL
            elif found is None:
                reason = R.UNKNOWN_ORDER
            elif found.account != account.id:
                reason = R.NOT_ORDER_OWNER
            else:
                reason = R.ORDER_FINAL
        coid = _shown(cmd.client_order_id)
        out.append(
            CancelRejected(
                account=cmd.account,
                order_id=cmd.order_id,
                client_order_id=coid,
                reason=reason,
                ts=ts,
            )
        )

    def _duplicate(self, order: Order, ts: int) -> DuplicateOrder:
        return DuplicateOrder(
            order_id=order.id,
            account=order.account,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            time_in_force=order.time_in_force,
            price=order.price,
            quantity=order.quantity,
            cum_quantity=order.cum,
            leaves_quantity=order.leaves,
            status=order.status,
            reject_reason=order.reject_reason,
            ts=order.ts,
        )

    @staticmethod
    def _duplicate_rejection(cmd: NewOrder, packed: int) -> DuplicateOrder:
        """A retry of a rejected order: its id, reason and time; the rest is the retry's own
        (a rejected order is not kept whole, and a retry normally repeats it)."""
        order_id, reason, original_ts = unpack_rejection(packed)
        return DuplicateOrder(
            order_id=order_id,
            account=cmd.account,
            client_order_id=cmd.client_order_id,
            symbol=cmd.symbol if valid_symbol(cmd.symbol) else "",
            side=cmd.side,
            order_type=cmd.order_type,
            time_in_force=cmd.time_in_force,
            price=cmd.price,
            quantity=cmd.quantity,
            cum_quantity=0,
            leaves_quantity=0,
            status=_REJECTED,
            reject_reason=reason,
            ts=original_ts,
        )

    @staticmethod
    def _order_rejected(
        order_id: int, cmd: NewOrder, reason: RejectReason, ts: int
    ) -> OrderRejected:
        """The rejection event; a client order id or symbol unsafe to echo is left out."""
        return OrderRejected(
            order_id=order_id,
            account=cmd.account,
            client_order_id=_shown(cmd.client_order_id),
            symbol=cmd.symbol if valid_symbol(cmd.symbol) else "",
            side=cmd.side,
            order_type=cmd.order_type,
            time_in_force=cmd.time_in_force,
            price=cmd.price,
            quantity=cmd.quantity,
            reason=reason,
            ts=ts,
        )

    # ------------------------------------------------------------ instruments

    def _add_instrument(self, cmd: AddInstrument, ts: int, out: list[Event]) -> None:
        symbol = cmd.symbol
        if symbol in self.instruments:
            out.append(CommandRejected(reason=R.SYMBOL_EXISTS, detail=symbol))
            return
        valid = (
            valid_symbol(symbol)
            and symbol.isupper()
            and symbol != CASH_ASSET
            and cmd.tick_size > 0
            and cmd.lot_size > 0
            and cmd.reference_price > 0
            and cmd.reference_price % cmd.tick_size == 0
            and 0 < cmd.max_order_quantity <= MAX_AMOUNT
            and 0 <= cmd.band_bps < BPS
            and 0 < cmd.daily_limit <= MAX_AMOUNT
            and cmd.reference_price <= MAX_AMOUNT // max(cmd.max_order_quantity, 1)
        )
        if not valid:
            out.append(CommandRejected(reason=R.INVALID_INSTRUMENT, detail=_shown(symbol)))
            return
        instrument = Instrument(
            symbol,
            cmd.name,
            cmd.tick_size,
            cmd.lot_size,
            cmd.reference_price,
            cmd.max_order_quantity,
            cmd.band_bps,
            cmd.daily_limit,
        )
        self.instruments[symbol] = instrument
        self.books[symbol] = instrument.book
        out.append(
            InstrumentAdded(
                symbol=symbol,
                name=cmd.name,
                tick_size=instrument.tick_size,
                lot_size=instrument.lot_size,
                reference_price=instrument.reference_price,
                low_price=instrument.low_price,
                high_price=instrument.high_price,
                max_order_quantity=instrument.max_order_quantity,
                daily_limit=instrument.daily_limit,
            )
        )

    def _set_instrument_status(self, cmd: SetInstrumentStatus, ts: int, out: list[Event]) -> None:
        instrument = self.instruments.get(cmd.symbol)
        if instrument is None:
            out.append(CommandRejected(reason=R.UNKNOWN_SYMBOL, detail=_shown(cmd.symbol)))
        elif cmd.status not in (InstrumentStatus.ACTIVE, InstrumentStatus.HALTED):
            out.append(CommandRejected(reason=R.INVALID_INSTRUMENT, detail=cmd.symbol))
        elif instrument.status == cmd.status:
            out.append(CommandRejected(reason=R.NO_CHANGE, detail=cmd.symbol))
        else:
            instrument.status = InstrumentStatus(cmd.status)
            out.append(InstrumentStatusChanged(symbol=cmd.symbol, status=instrument.status))

    # --------------------------------------------------------------- accounts

    def _open_account(self, cmd: OpenAccount, ts: int, out: list[Event]) -> None:
        """Open the next account id for a new owner; the same owner gets its own account back."""
        owner = cmd.owner
        if not identifier(owner, MAX_REFERENCE_LENGTH):
            out.append(CommandRejected(reason=R.INVALID_REFERENCE, detail=_shown(owner)))
            return
        existing = self.owners.get(owner)
        if existing is not None:
            out.append(CommandRejected(reason=R.ACCOUNT_EXISTS, account=existing, detail=owner))
            return
        account_id = self.next_account_id
        if account_id > MAX_AMOUNT:
            out.append(CommandRejected(reason=R.INVALID_ACCOUNT_ID, account=account_id))
            return
        self.next_account_id = account_id + 1
        self.accounts[account_id] = Account(account_id, owner)
        self.owners[owner] = account_id
        out.append(AccountOpened(account=account_id))

    def _open_account_v1(self, cmd: OpenAccountV1, ts: int, out: list[Event]) -> None:
        """The caller's account id, as journals from before review M1 hold it (replay only)."""
        if not 0 < cmd.account <= MAX_AMOUNT:
            out.append(CommandRejected(reason=R.INVALID_ACCOUNT_ID, account=cmd.account))
        elif cmd.account in self.accounts:
            out.append(CommandRejected(reason=R.ACCOUNT_EXISTS, account=cmd.account))
        else:
            self.accounts[cmd.account] = Account(cmd.account)
            self.next_account_id = max(self.next_account_id, cmd.account + 1)
            out.append(AccountOpened(account=cmd.account))

    def _set_account_status(self, cmd: SetAccountStatus, ts: int, out: list[Event]) -> None:
        account = self.accounts.get(cmd.account)
        if account is None:
            out.append(CommandRejected(reason=R.UNKNOWN_ACCOUNT, account=cmd.account))
            return
        if cmd.status not in (AccountStatus.OPEN, AccountStatus.SUSPENDED):
            out.append(CommandRejected(reason=R.INVALID_ACCOUNT_ID, account=cmd.account))
            return
        if account.status == cmd.status:
            out.append(CommandRejected(reason=R.NO_CHANGE, account=cmd.account))
            return
        account.status = AccountStatus(cmd.status)
        out.append(AccountStatusChanged(account=account.id, status=account.status))
        if account.status is AccountStatus.SUSPENDED:
            live = [o for o in self.orders.values() if o.account == account.id and o.is_live]
            for order in live:
                self._remove_resting(order, CancelReason.ADMIN, ts, out)

    def _check_movement(
        self, cmd: Deposit | Withdraw
    ) -> tuple[RejectReason | None, Account | None]:
        account = self.accounts.get(cmd.account)
        if account is None:
            return R.UNKNOWN_ACCOUNT, None
        if cmd.asset != CASH_ASSET and cmd.asset not in self.instruments:
            return R.UNKNOWN_SYMBOL, None
        if not 0 < cmd.amount <= MAX_AMOUNT:
            return R.INVALID_AMOUNT, None
        if not identifier(cmd.reference, MAX_REFERENCE_LENGTH):
            return R.INVALID_REFERENCE, None
        if cmd.reference in self.references:
            return R.DUPLICATE_REFERENCE, None
        return None, account

    def _deposit(self, cmd: Deposit, ts: int, out: list[Event]) -> None:
        reason, account = self._check_movement(cmd)
        if reason is None and account is not None:
            if cmd.asset == CASH_ASSET:
                room = MAX_BALANCE - account.cash - account.cash_incoming
            else:
                held = account.positions.get(cmd.asset)
                room = MAX_BALANCE
                if held is not None:
                    room -= held.total + held.open_quantity
            if cmd.amount > room:
                reason = R.BALANCE_LIMIT
        if reason is not None or account is None:
            out.append(CommandRejected(reason=reason or R.UNKNOWN_ACCOUNT, account=cmd.account))
            return
        self.references[cmd.reference] = None
        if cmd.asset == CASH_ASSET:
            account.cash += cmd.amount
            total, available = account.cash, account.cash_available
        else:
            position = account.position(cmd.asset)
            position.total += cmd.amount
            total, available = position.total, position.available
        out.append(
            BalanceChanged(
                account=account.id,
                asset=cmd.asset,
                amount=cmd.amount,
                reference=cmd.reference,
                total=total,
                available=available,
            )
        )

    def _withdraw(self, cmd: Withdraw, ts: int, out: list[Event]) -> None:
        reason, account = self._check_movement(cmd)
        if reason is None and account is not None:
            if cmd.asset == CASH_ASSET:
                if account.cash_available < cmd.amount:
                    reason = R.INSUFFICIENT_FUNDS
            else:
                held = account.positions.get(cmd.asset)
                if held is None or held.available < cmd.amount:
                    reason = R.INSUFFICIENT_SHARES
        if reason is not None or account is None:
            out.append(CommandRejected(reason=reason or R.UNKNOWN_ACCOUNT, account=cmd.account))
            return
        self.references[cmd.reference] = None
        if cmd.asset == CASH_ASSET:
            account.cash -= cmd.amount
            total, available = account.cash, account.cash_available
        else:
            position = account.positions[cmd.asset]
            position.total -= cmd.amount
            total, available = position.total, position.available
        out.append(
            BalanceChanged(
                account=account.id,
                asset=cmd.asset,
                amount=-cmd.amount,
                reference=cmd.reference,
                total=total,
                available=available,
            )
        )

    # --------------------------------------------------------------- sessions

    def _open_session(self, cmd: OpenSession, ts: int, out: list[Event]) -> None:
        day = cmd.trading_day
        if self.session_open:
            out.append(CommandRejected(reason=R.SESSION_ALREADY_OPEN, detail=str(day)))
            return
        if not _valid_trading_day(day) or day < self.trading_day:
            out.append(CommandRejected(reason=R.INVALID_TRADING_DAY, detail=str(day)))
            return
        if day > self.trading_day:
            self._start_trading_day()
        self.trading_day = day
        self.session_open = True
        out.append(SessionOpened(trading_day=day))

    def _start_trading_day(self) -> None:
        """Forget yesterday's final orders and reset the daily risk counters."""
        live = {oid: o for oid, o in self.orders.items() if o.is_live}
        self.orders = live
        for account in self.accounts.values():
            account.orders_by_client_id = {}
            account.rejected_today = 0
            for position in account.positions.values():
                position.filled_today = 0
        for oid, order in live.items():
            self.accounts[order.account].orders_by_client_id[order.client_order_id] = oid

    def _close_session(self, cmd: CloseSession, ts: int, out: list[Event]) -> None:
        if not self.session_open:
            out.append(CommandRejected(reason=R.SESSION_NOT_OPEN))
            return
        expiring = [o for o in self.orders.values() if o.is_live and o.time_in_force == _DAY]
        for order in expiring:
            self._remove_resting(order, CancelReason.USER, ts, out, expire=True)
        for instrument in self.instruments.values():
            last = instrument.last_price
            if last and last != instrument.reference_price:
                instrument.set_reference_price(last)
                out.append(
                    ReferencePriceChanged(
                        symbol=instrument.symbol,
                        reference_price=last,
                        low_price=instrument.low_price,
                        high_price=instrument.high_price,
                    )
                )
        self.session_open = False
        out.append(SessionClosed(trading_day=self.trading_day))
