"""The listed instruments, read from a CSV file into core `AddInstrument` commands.

Instruments are data: the engine journals these commands on first start, so
replay sees the same listing. The file is checked strictly; an error names
the line and column.
"""

import csv
import io
from importlib import resources
from pathlib import Path

from exchange.core.commands import CASH_ASSET, AddInstrument

COLUMNS = (
    "symbol",
    "name",
    "reference_price",
    "tick_size",
    "lot_size",
    "max_order_quantity",
    "band_bps",
    "daily_limit",
)
_INTEGER_COLUMNS = COLUMNS[2:]


def _text(path: str | Path | None) -> tuple[str, str]:
    if path is None:
        return resources.files(__package__).joinpath("symbols.csv").read_text(
            "utf-8"
        ), "symbols.csv"
    return Path(path).read_text("utf-8"), str(path)


def _integer(value: str, where: str, column: str) -> int:
    if not value.isdigit():
        raise ValueError(f"{where}, column {column}: {value!r} is not a positive integer")
    number = int(value)
    if number <= 0 and column != "band_bps":
        raise ValueError(f"{where}, column {column}: must be positive")
    return number


def load_instruments(path: str | Path | None = None) -> list[AddInstrument]:
    """The instruments in `path` (default: the shipped list of 100 symbols), in file order."""
    text, name = _text(path)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise ValueError(f"{name}, line 1: header must be {','.join(COLUMNS)}")
    seen: set[str] = set()
    instruments = []
    for line, row in enumerate(reader, start=2):
        where = f"{name}, line {line}"
        if len(row) != len(COLUMNS):
            raise ValueError(f"{where}: expected {len(COLUMNS)} columns, got {len(row)}")
        fields = dict(zip(COLUMNS, row, strict=True))
        symbol = fields["symbol"]
        if not (
            2 <= len(symbol) <= 12 and symbol.isascii() and symbol.isalnum() and symbol.isupper()
        ):
            raise ValueError(f"{where}, column symbol: {symbol!r} must be 2-12 of A-Z and 0-9")
        if symbol == CASH_ASSET or symbol in seen:
            raise ValueError(f"{where}, column symbol: {symbol!r} is taken")
        seen.add(symbol)
        if not fields["name"].strip():
            raise ValueError(f"{where}, column name: empty")
        numbers = {c: _integer(fields[c], where, c) for c in _INTEGER_COLUMNS}
        if numbers["reference_price"] % numbers["tick_size"]:
            raise ValueError(f"{where}, column reference_price: not a multiple of the tick size")
        if numbers["band_bps"] >= 10_000:
            raise ValueError(f"{where}, column band_bps: must be below 10000")
        instruments.append(
            AddInstrument(
                symbol=symbol,
                name=fields["name"].strip(),
                tick_size=numbers["tick_size"],
                lot_size=numbers["lot_size"],
                reference_price=numbers["reference_price"],
                max_order_quantity=numbers["max_order_quantity"],
                band_bps=numbers["band_bps"],
                daily_limit=numbers["daily_limit"],
            )
        )
    if not instruments:
        raise ValueError(f"{name}: no instruments")
    return instruments
