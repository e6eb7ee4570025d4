"""Session commands from the calendar, by reconciling it with the core's session state.

Instead of firing at transition instants, the engine asks on every turn
"what should the session be now?" and injects the commands that make the
core agree. A restart, a pause or a missed instant therefore converges to
the calendar instead of skipping a transition.
"""

from datetime import datetime

from exchange.calendar import TradingCalendar
from exchange.core import CloseSession, Command, ExchangeCore, OpenSession


def session_commands(calendar: TradingCalendar, now: datetime, core: ExchangeCore) -> list[Command]:
    """The commands that bring `core` to the session the calendar has at `now`."""
    day = calendar.session_at(now)
    if day is None:
        return [CloseSession()] if core.session_open else []
    if core.session_open:
        if core.trading_day == day:
            return []
        if core.trading_day > day:
            return []  # the core is ahead of the wall clock (clock stepped back): wait
        return [CloseSession(), OpenSession(trading_day=day)]
    if core.trading_day > day:
        return []
    return [OpenSession(trading_day=day)]
