"""Reference data: the listed instruments, as core `AddInstrument` commands.

Listing is data, not code: the engine journals these commands on first start.
"""

from exchange.refdata.loader import (
    COLUMNS,
    MAX_VALUE,
    SHIPPED,
    InstrumentFileError,
    load_instruments,
    parse_instruments,
)

__all__ = [
    "COLUMNS",
    "MAX_VALUE",
    "SHIPPED",
    "InstrumentFileError",
    "load_instruments",
    "parse_instruments",
]
