"""The plan in the engine's own words: arrivals and the makers' liquidity as core commands.

Over REST the gateway turns a JSON order into a `NewOrder` and a DELETE
into a `CancelOrder` by exchange order id. Straight to the engine the
generator does it: a cancel names the order by its client order id, so it
can be sent before the order's reply is back (open loop). The symbols are
the listed ones the engine loads at its first start (`refdata`), with the
band the core derives from each reference price.
"""

from __future__ import annotations

from collections.abc import Sequence

from exchange.core import AddInstrument, CancelOrder, NewOrder, OrderType, Side, TimeInForce
from exchange.core.instrument import price_band
from exchange.loadgen.plan import Arrival, Kind, MakerOrder, Symbol

SIDES = {"buy": Side.BUY, "sell": Side.SELL}
TIME_IN_FORCE = {"day": TimeInForce.DAY, "gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC}


def symbol_of(instrument: AddInstrument) -> Symbol:
    """What the plan needs of a listed instrument (as GET /v1/symbols would say it)."""
    low, high = price_band(instrument.reference_price, instrument.band_bps, instrument.tick_size)
    return Symbol(
        instrument.symbol,
        instrument.tick_size,
        instrument.lot_size,
        instrument.reference_price,
        low,
        high,
        instrument.max_order_quantity,
    )


def command_of(arrival: Arrival, account: int, tag: str) -> NewOrder | CancelOrder:
    """One arrival of `account`'s as the command the gateway would have sent (`tag`: the
    plan's, which prefixes every client order id: `<tag>-<n>`)."""
    if arrival.kind is Kind.CANCEL:
        return CancelOrder(account=account, client_order_id=f"{tag}-{arrival.target}")
    market = arrival.kind is Kind.MARKET
    return NewOrder(
        account=account,
        client_order_id=arrival.client_order_id,
        symbol=arrival.symbol,
        side=SIDES[arrival.side],
        order_type=OrderType.MARKET if market else OrderType.LIMIT,
        time_in_force=TIME_IN_FORCE[arrival.time_in_force],
        price=0 if market else arrival.price,
        quantity=arrival.quantity,
    )


def maker_commands(
    orders: Sequence[MakerOrder], accounts: Sequence[int], tag: str
) -> list[NewOrder]:
    """The makers' resting liquidity (GTC), as `rest_liquidity` places it over REST."""
    return [
        NewOrder(
            account=accounts[order.maker],
            client_order_id=f"{tag}-m{index}",
            symbol=order.symbol,
            side=SIDES[order.side],
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTC,
            price=order.price,
            quantity=order.quantity,
        )
        for index, order in enumerate(orders)
    ]
