"""The trading calendar: wall-clock time -> session open/close commands."""

from exchange.calendar.trading_calendar import TradingCalendar, Transition

__all__ = ["TradingCalendar", "Transition"]
