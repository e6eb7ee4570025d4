"""The trading calendar: wall-clock time -> the core's session open/close commands.

The core has no clock; this package says when `OpenSession` and `CloseSession`
happen, and the engine injects them through the sequencer.
"""

from exchange.calendar.trading_calendar import (
    DEFAULT_WEEKDAYS,
    SEARCH_DAYS,
    SETTINGS,
    WEEKDAY_NAMES,
    TradingCalendar,
    Transition,
)

__all__ = [
    "DEFAULT_WEEKDAYS",
    "SEARCH_DAYS",
    "SETTINGS",
    "WEEKDAY_NAMES",
    "TradingCalendar",
    "Transition",
]
