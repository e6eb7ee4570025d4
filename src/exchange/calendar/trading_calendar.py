"""When the market is open: trading days, hours and holidays, as configuration.

The core knows only `OpenSession(trading_day)` and `CloseSession()`. This
module turns wall-clock time into those commands; the engine asks for the
next transition and injects the command through the sequencer at that time,
so a replay sees it at the same place in the log. No threads, no sleeping.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from exchange.core.commands import CloseSession, OpenSession

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WEEKDAYS = frozenset({5, 6, 0, 1, 2, 3})  # Saturday to Thursday (Monday = 0)
SEARCH_DAYS = 366

Transition = tuple[datetime, OpenSession | CloseSession]


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the calendar needs a timezone-aware datetime")
    return now


@dataclass(frozen=True)
class TradingCalendar:
    """Continuous trading from `open` to `close` local time on trading days.

    `always_open` (demos and tests): the market is open at every instant;
    the trading day is the local date and rolls at local midnight with a
    close immediately followed by the next day's open.
    """

    timezone: str = "Asia/Tehran"
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS
    open: time = time(9, 0)
    close: time = time(12, 30)
    holidays: frozenset[date] = field(default_factory=frozenset)
    always_open: bool = False

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fails early for an unknown zone
        if not self.always_open and self.open >= self.close:
            raise ValueError("the session must open before it closes")
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError("weekdays must be a non-empty set of 0 (Monday) .. 6 (Sunday)")

    # -------------------------------------------------------------- building

    @classmethod
    def default(cls) -> "TradingCalendar":
        return cls()

    @classmethod
    def always(cls, timezone: str = "Asia/Tehran") -> "TradingCalendar":
        return cls(timezone=timezone, always_open=True)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> "TradingCalendar":
        known = {"timezone", "weekdays", "open", "close", "holidays", "always_open"}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown calendar settings: {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        if "timezone" in config:
            kwargs["timezone"] = str(config["timezone"])
        if "weekdays" in config:
            try:
                kwargs["weekdays"] = frozenset(
                    WEEKDAYS.index(d.lower()) for d in config["weekdays"]
                )
            except (ValueError, AttributeError) as error:
                raise ValueError(f"weekdays must be names from {WEEKDAYS}") from error
        for key in ("open", "close"):
            if key in config:
                try:
                    kwargs[key] = time.fromisoformat(config[key])
                except (TypeError, ValueError) as error:
                    raise ValueError(f"{key} must be HH:MM, not {config[key]!r}") from error
        if "holidays" in config:
            try:
                kwargs["holidays"] = frozenset(date.fromisoformat(d) for d in config["holidays"])
            except (TypeError, ValueError) as error:
                raise ValueError("holidays must be YYYY-MM-DD dates") from error
        if "always_open" in config:
            kwargs["always_open"] = bool(config["always_open"])
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> "TradingCalendar":
        return cls.from_dict(json.loads(Path(path).read_text("utf-8")))

    # --------------------------------------------------------------- queries

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_trading_day(self, day: date) -> bool:
        return self.always_open or (day.weekday() in self.weekdays and day not in self.holidays)

    @staticmethod
    def trading_day(day: date) -> int:
        return day.year * 10_000 + day.month * 100 + day.day

    def _local(self, now: datetime) -> datetime:
        return _aware(now).astimezone(self.zone)

    def is_open(self, now: datetime) -> bool:
        local = self._local(now)
        if self.always_open:
            return True
        return self.is_trading_day(local.date()) and self.open <= local.time() < self.close

    def session_at(self, now: datetime) -> int | None:
        """The trading day in session at `now`, or None when closed."""
        return self.trading_day(self._local(now).date()) if self.is_open(now) else None

    def _at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, self.zone).astimezone(UTC)

    def transitions(self, start: datetime, end: datetime) -> list[Transition]:
        """Every open and close in [start, end), in order."""
        out: list[Transition] = []
        day = self._local(start).date() - timedelta(days=1)
        last = self._local(end).date()
        while day <= last:
            moments: list[Transition]
            if self.always_open:
                moments = [
                    (self._at(day, time(0)), CloseSession()),
                    (self._at(day, time(0)), OpenSession(self.trading_day(day))),
                ]
            elif self.is_trading_day(day):
                moments = [
                    (self._at(day, self.open), OpenSession(self.trading_day(day))),
                    (self._at(day, self.close), CloseSession()),
                ]
            else:
                moments = []
            out.extend(m for m in moments if _aware(start) <= m[0] < _aware(end))
            day += timedelta(days=1)
        return out

    def next_transition(self, now: datetime) -> Transition:
        """The first open or close strictly after `now`."""
        horizon = _aware(now)
        for _ in range(SEARCH_DAYS // 7 + 2):
            found = [
                t for t in self.transitions(horizon, horizon + timedelta(days=8)) if t[0] > now
            ]
            if found:
                return found[0]
            horizon += timedelta(days=8)
        raise ValueError(f"no trading session within {SEARCH_DAYS} days of {now}")

    def next_open(self, now: datetime) -> datetime:
        when, command = self.next_transition(now)
        while not isinstance(command, OpenSession):
            when, command = self.next_transition(when)
        return when

    def next_close(self, now: datetime) -> datetime:
        when, command = self.next_transition(now)
        while not isinstance(command, CloseSession):
            when, command = self.next_transition(when)
        return when
