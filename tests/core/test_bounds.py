"""M6: no balance or position passes MAX_BALANCE, and fills never have to check it.

Deposits past the bound are refused; an order is refused at entry when its
fills could take the buyer's position or the seller's cash (with what its
other open orders may still bring in) past the bound.
"""

from exchange.core import Deposit, RejectReason
from exchange.core.events import BalanceChanged, CommandRejected, Fill, OrderRejected
from exchange.core.machine import MAX_AMOUNT, MAX_BALANCE
from tests.core.harness import SYMBOL, Harness, of_type, only, standard


def fill_to(h: Harness, account: int, asset: str, total: int) -> None:
    """Deposit (in steps of at most MAX_AMOUNT) until the balance is `total`."""
    a = h.core.accounts[account]
    have = a.cash if asset == "IRR" else a.positions[asset].total
    step = 0
    while have < total:
        amount = min(MAX_AMOUNT, total - have)
        step += 1
        only(
            h.apply(
                Deposit(
                    account=account,
                    asset=asset,
                    amount=amount,
                    reference=f"fill-{account}-{asset}-{step}",
                )
            ),
            BalanceChanged,
        )
        have += amount


def test_m6_a_deposit_past_max_balance_is_refused_and_changes_nothing() -> None:
    h = standard()
    fill_to(h, 1, "IRR", MAX_BALANCE - 5)
    refused = only(
        h.apply(Deposit(account=1, asset="IRR", amount=6, reference="over")), CommandRejected
    )
    assert refused.reason is RejectReason.BALANCE_LIMIT
    assert h.cash(1)[0] == MAX_BALANCE - 5 and "over" not in h.core.references
    assert (
        only(
            h.apply(Deposit(account=1, asset="IRR", amount=5, reference="exact")), BalanceChanged
        ).total
        == MAX_BALANCE
    )
    fill_to(h, 2, SYMBOL, MAX_BALANCE)
    refused = only(
        h.apply(Deposit(account=2, asset=SYMBOL, amount=1, reference="over-shares")),
        CommandRejected,
    )
    assert refused.reason is RejectReason.BALANCE_LIMIT


def test_m6_a_sell_whose_fills_could_credit_cash_past_the_bound_is_refused() -> None:
    h = standard()
    high = h.core.instruments[SYMBOL].high_price  # the most a sell can be paid now
    fill_to(h, 1, "IRR", MAX_BALANCE - high * 200)
    h.order(2, "buy", 100, 10_000)  # a bid for the sells to hit
    assert len(of_type(h.order(1, "sell", 100, 10_000), Fill)) == 2  # fits, and fills
    # 100 more at the band's top fits exactly; it rests and counts as incoming.
    assert not of_type(h.order(1, "sell", 100, 10_500), OrderRejected)
    assert h.core.accounts[1].cash_incoming == high * 100  # room left: 50,000
    assert h.order(1, "sell", 100, 10_500)[0].reason is RejectReason.BALANCE_LIMIT
    assert only(
        h.apply(Deposit(account=1, asset="IRR", amount=50_001, reference="x")), CommandRejected
    ).reason is (RejectReason.BALANCE_LIMIT)
    h.order(3, "buy", 100, 10_500)  # fills the resting sell: cash ends within the bound
    account = h.core.accounts[1]
    assert account.cash_incoming == 0 and account.cash <= MAX_BALANCE


def test_m6_a_buy_whose_fills_could_push_the_position_past_the_bound_is_refused() -> None:
    h = standard()
    fill_to(h, 1, SYMBOL, MAX_BALANCE - 300)
    assert not of_type(h.order(1, "buy", 200, 10_000), OrderRejected)  # rests: 200 may come
    assert h.order(1, "buy", 200, 10_000)[0].reason is RejectReason.BALANCE_LIMIT
    assert not of_type(h.order(1, "buy", 100, 10_000), OrderRejected)
