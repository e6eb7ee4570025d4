"""A listed instrument and its daily price band."""

from exchange.core.book import Book
from exchange.core.enums import InstrumentStatus

BPS = 10_000


def price_band(reference_price: int, band_bps: int, tick_size: int) -> tuple[int, int]:
    """The lowest and highest acceptable prices: reference +/- band, on the tick grid.

    The low end rounds up and the high end rounds down, so the band never
    admits a price outside the percentage; the low end is at least one tick.
    """
    low = -((-reference_price * (BPS - band_bps)) // BPS)  # ceil
    high = reference_price * (BPS + band_bps) // BPS
    low = -(-low // tick_size) * tick_size
    high = high // tick_size * tick_size
    return max(low, tick_size), high


class Instrument:
    __slots__ = (
        "band_bps",
        "book",
        "daily_limit",
        "high_price",
        "last_price",
        "lot_size",
        "low_price",
        "max_order_quantity",
        "name",
        "reference_price",
        "status",
        "symbol",
        "tick_size",
    )

    def __init__(
        self,
        symbol: str,
        name: str,
        tick_size: int,
        lot_size: int,
        reference_price: int,
        max_order_quantity: int,
        band_bps: int,
        daily_limit: int,
    ) -> None:
        self.symbol = symbol
        self.name = name
        self.tick_size = tick_size
        self.lot_size = lot_size
        self.max_order_quantity = max_order_quantity
        self.band_bps = band_bps
        self.daily_limit = daily_limit
        self.status = InstrumentStatus.ACTIVE
        self.last_price = 0
        self.reference_price = reference_price
        self.low_price, self.high_price = price_band(reference_price, band_bps, tick_size)
        self.book = Book(symbol)

    def set_reference_price(self, price: int) -> None:
        self.reference_price = price
        self.low_price, self.high_price = price_band(price, self.band_bps, self.tick_size)
