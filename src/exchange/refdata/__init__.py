"""Reference data: the listed instruments."""

from exchange.refdata.loader import COLUMNS, load_instruments

__all__ = ["COLUMNS", "load_instruments"]
