"""The listed instruments, read from a CSV file into core `AddInstrument` commands.

Instruments are data: the engine journals these commands on first start, so a
replay sees the same listing. The core would silently reject a bad instrument
(one `CommandRejected` in the journal, a symbol missing from the market), so
the file is checked strictly here, before anything is journaled, and every
error names the file, the line and the column.
"""

import csv
import io
import re
from importlib import resources
from pathlib import Path
from typing import Final

from exchange.core.commands import CASH_ASSET, AddInstrument

COLUMNS: Final = (
    "symbol",
    "name",
    "reference_price",
    "tick_size",
    "lot_size",
    "max_order_quantity",
    "band_bps",
    "daily_limit",
)
"""The exact header of an instrument file, in order."""

SHIPPED: Final = "symbols.csv"
"""The listing shipped as package data: 100 instruments modelled on the Tehran Stock Exchange."""

MAX_VALUE: Final = 10**18
"""Largest price or quantity (the core's limit; it also bounds price x max quantity)."""

_INTEGER_COLUMNS: Final = COLUMNS[2:]
_SYMBOL: Final = re.compile(r"[A-Z][A-Z0-9]{1,11}")  # the core needs a letter (isupper)
_INTEGER: Final = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also accepts "²" and "٣"
_BPS: Final = 10_000
_DIGITS: Final = len(str(MAX_VALUE))


class InstrumentFileError(ValueError):
    """A bad instrument file; `line` and `column` say where (None when not one place)."""

    def __init__(self, source: str, line: int, column: str | None, problem: str) -> None:
        where = f"{source}, line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.line = line
        self.column = column
        self.problem = problem


def load_instruments(path: str | Path | None = None) -> list[AddInstrument]:
    """The instruments in `path` (None: the shipped 100 symbols), in file order."""
    if path is None:
        text = resources.files(__package__).joinpath(SHIPPED).read_text("utf-8-sig")
        return parse_instruments(text, SHIPPED)
    return parse_instruments(Path(path).read_text("utf-8-sig"), str(path))


def parse_instruments(text: str, source: str = "<string>") -> list[AddInstrument]:
    """The instruments in CSV `text`; `source` names it in error messages."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    instruments: list[AddInstrument] = []
    seen: dict[str, int] = {}
    try:
        header = next(reader, None)
        if header is None or tuple(header) != COLUMNS:
            got = "nothing" if header is None else ",".join(header)
            raise InstrumentFileError(
                source, 1, None, f"header must be {','.join(COLUMNS)} (got {got})"
            )
        for row in reader:
            line = reader.line_num
            instrument = _instrument(row, source, line)
            symbol = instrument.symbol
            if symbol in seen:
                raise InstrumentFileError(
                    source,
                    line,
                    "symbol",
                    f"{symbol!r} is listed twice (first on line {seen[symbol]})",
                )
            seen[symbol] = line
            instruments.append(instrument)
    except csv.Error as error:
        raise InstrumentFileError(source, reader.line_num, None, f"bad CSV: {error}") from error
    if not instruments:
        raise InstrumentFileError(source, reader.line_num, None, "no instruments")
    return instruments


def _instrument(row: list[str], source: str, line: int) -> AddInstrument:
    """One checked data row: the core's own rules, plus the listing's (positive values)."""
    if not row:
        raise InstrumentFileError(source, line, None, "blank line")
    if len(row) != len(COLUMNS):
        raise InstrumentFileError(
            source, line, None, f"expected {len(COLUMNS)} columns, got {len(row)}"
        )
    fields = dict(zip(COLUMNS, row, strict=True))
    symbol = fields["symbol"]
    if not _SYMBOL.fullmatch(symbol):
        raise InstrumentFileError(
            source,
            line,
            "symbol",
            f"{symbol!r} must be 2 to 12 of A-Z and 0-9, starting with a letter",
        )
    if symbol == CASH_ASSET:
        raise InstrumentFileError(
            source, line, "symbol", f"{symbol!r} is the cash asset, not a symbol"
        )
    name = fields["name"]
    if not name.strip() or name != name.strip():
        raise InstrumentFileError(
            source, line, "name", f"{name!r} must be non-empty, without outer spaces"
        )
    numbers = {
        column: _integer(fields[column], source, line, column) for column in _INTEGER_COLUMNS
    }
    if numbers["reference_price"] % numbers["tick_size"]:
        raise InstrumentFileError(
            source,
            line,
            "reference_price",
            f"{numbers['reference_price']} is not a multiple of the tick size "
            f"{numbers['tick_size']}",
        )
    if numbers["band_bps"] >= _BPS:
        raise InstrumentFileError(
            source, line, "band_bps", f"{numbers['band_bps']} must be below {_BPS} (100 %)"
        )
    if numbers["reference_price"] * numbers["max_order_quantity"] > MAX_VALUE:
        raise InstrumentFileError(
            source,
            line,
            "max_order_quantity",
            f"reference_price x max_order_quantity exceeds {MAX_VALUE}",
        )
    return AddInstrument(
        symbol=symbol,
        name=name,
        tick_size=numbers["tick_size"],
        lot_size=numbers["lot_size"],
        reference_price=numbers["reference_price"],
        max_order_quantity=numbers["max_order_quantity"],
        band_bps=numbers["band_bps"],
        daily_limit=numbers["daily_limit"],
    )


def _integer(value: str, source: str, line: int, column: str) -> int:
    """A positive integer written as plain ASCII digits: no sign, point, blank or spaces."""
    if not _INTEGER.fullmatch(value):
        shown = "blank" if not value else repr(value)
        raise InstrumentFileError(source, line, column, f"{shown} is not a whole number")
    number = int(value) if len(value) <= _DIGITS else MAX_VALUE + 1  # int() caps at 4300 digits
    if number <= 0:
        raise InstrumentFileError(source, line, column, f"{number} must be positive")
    if number > MAX_VALUE:
        raise InstrumentFileError(source, line, column, f"{value[:24]!r} exceeds {MAX_VALUE}")
    return number
