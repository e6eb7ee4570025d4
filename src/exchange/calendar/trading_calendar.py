"""When the market is open: trading days, hours and holidays, as configuration.

The core knows only `OpenSession(trading_day)` and `CloseSession()`; it has no
clock. This module turns wall-clock time into those commands. It never sleeps
and starts no threads: the engine asks when the next transition is, and puts
the due commands through the sequencer, so a replay sees them at the same
place in the log.

Every session is a pair of instants, [open, close), computed once per day
from the local wall-clock times, and every query (`is_open`, `session_at`,
`transitions`, `next_*`) is answered from those same instants, so they can
never disagree with each other, in Tehran or in a zone with daylight saving.
"""

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchange.core.commands import CloseSession, OpenSession

WEEKDAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Names for the `weekdays` setting; the index is `date.weekday()` (Monday = 0)."""

DEFAULT_WEEKDAYS: Final = frozenset({5, 6, 0, 1, 2, 3})
"""Saturday to Thursday: the Tehran Stock Exchange's week (Friday is the weekend)."""

SEARCH_DAYS: Final = 366
"""How far the `next_*` methods look for a trading day before giving up."""

Transition: TypeAlias = tuple[datetime, OpenSession | CloseSession]
"""An instant (aware, UTC) and the command that takes effect at it."""

SETTINGS: Final = frozenset({"timezone", "weekdays", "open", "close", "holidays", "always_open"})
"""The keys a calendar file may have; every one is optional."""

_DAY: Final = timedelta(days=1)
_CACHED_DAYS: Final = 4096
_MIDNIGHT: Final = time(0, 0)
_CLOCK: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _utc(now: datetime) -> datetime:
    """`now` as UTC; a naive datetime is refused, because its instant is unknown."""
    if not isinstance(now, datetime):
        raise TypeError(f"expected a datetime, not {type(now).__name__}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(
            f"naive datetime {now.isoformat()}: the calendar needs a timezone-aware one"
        )
    return now.astimezone(UTC)


def _plain_date(day: date) -> date:
    """`day`, refusing a datetime: it hashes differently and would miss every holiday."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a date, not {type(day).__name__}")
    return day


@dataclass(frozen=True)
class TradingCalendar:
    """Trading from `open` (inclusive) to `close` (exclusive), local time, on trading days.

    A trading day is a weekday in `weekdays` (0 = Monday .. 6 = Sunday) that
    is not in `holidays`; its number is the local date as YYYYMMDD.

    With `around_the_clock` (built by `always_open()`, for demos and tests)
    the market is open at every instant and the trading day is the local
    date. The day rolls at local midnight with a `CloseSession` and the next
    day's `OpenSession` at the same instant, in that order: the core needs
    both to expire DAY orders and reset daily limits. `transitions()` returns
    both; `next_transition()` returns the close (the first of the pair).
    """

    timezone: str = "Asia/Tehran"
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS
    open: time = time(9, 0)
    close: time = time(12, 30)
    holidays: frozenset[date] = frozenset()
    around_the_clock: bool = False
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _sessions: dict[date, tuple[datetime, datetime] | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    """Sessions by day, computed once: the engine asks `session_at` on every turn."""

    def __post_init__(self) -> None:
        """Check everything up front, so a bad calendar fails at start, not at 09:00."""
        object.__setattr__(self, "_zone", _load_zone(self.timezone))
        weekdays = frozenset(self.weekdays)
        if not weekdays or not all(type(d) is int and 0 <= d <= 6 for d in weekdays):
            raise ValueError("weekdays must be a non-empty set of 0 (Monday) .. 6 (Sunday)")
        object.__setattr__(self, "weekdays", weekdays)
        for name, moment in (("open", self.open), ("close", self.close)):
            if type(moment) is not time or moment.tzinfo is not None:
                raise ValueError(f"{name} must be a local time without a timezone")
        if self.open >= self.close:
            raise ValueError(
                f"the session must open before it closes (open {self.open}, close {self.close})"
            )
        holidays = frozenset(self.holidays)
        bad = [h for h in holidays if type(h) is not date]
        if bad:
            raise ValueError(f"holidays must be dates, not {type(bad[0]).__name__}")
        object.__setattr__(self, "holidays", holidays)
        if type(self.around_the_clock) is not bool:
            raise ValueError("around_the_clock must be True or False")

    # -------------------------------------------------------------- building

    @classmethod
    def default(cls) -> "TradingCalendar":
        """Saturday to Thursday, 09:00-12:30 Asia/Tehran, no holidays."""
        return cls()

    @classmethod
    def always_open(cls, timezone: str = "Asia/Tehran") -> "TradingCalendar":
        """Open at every instant; the trading day rolls at local midnight (see the class)."""
        return cls(timezone=timezone, around_the_clock=True)

    @classmethod
    def always(cls, timezone: str = "Asia/Tehran") -> "TradingCalendar":
        """Alias of `always_open()`, for the callers (cli, engine tests) that predate that name."""
        return cls.always_open(timezone)

    @classmethod
    def from_dict(cls, config: Mapping[str, object]) -> "TradingCalendar":
        """A calendar from settings as in a calendar file; missing keys keep the defaults.

        Keys: timezone ("Asia/Tehran"), weekdays (["sat", ...]), open and close
        ("HH:MM" or "HH:MM:SS"), holidays (["YYYY-MM-DD", ...]) and
        always_open (true/false). Anything else is an error, not ignored.
        """
        if not isinstance(config, Mapping):
            raise ValueError(f"calendar settings must be an object, not {type(config).__name__}")
        unknown = sorted(str(key) for key in config if key not in SETTINGS)
        if unknown:
            raise ValueError(
                f"unknown calendar settings: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(SETTINGS))})"
            )
        base = cls()
        always = config.get("always_open", False)
        if type(always) is not bool:
            raise ValueError(f"always_open must be true or false, not {always!r}")
        timezone = config.get("timezone", base.timezone)
        if not isinstance(timezone, str):
            raise ValueError(f"timezone must be a string such as 'Asia/Tehran', not {timezone!r}")
        return cls(
            timezone=timezone,
            weekdays=_weekdays(config["weekdays"]) if "weekdays" in config else base.weekdays,
            open=_clock("open", config["open"]) if "open" in config else base.open,
            close=_clock("close", config["close"]) if "close" in config else base.close,
            holidays=_holidays(config["holidays"]) if "holidays" in config else base.holidays,
            around_the_clock=always,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> "TradingCalendar":
        """A calendar from a JSON file (see `from_dict`); errors name the file."""
        text = Path(path).read_text("utf-8")
        try:
            config = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON: {error}") from error
        try:
            return cls.from_dict(config)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error

    # --------------------------------------------------------------- queries

    def is_trading_day(self, day: date) -> bool:
        """Whether `day` (a local date) has a session."""
        day = _plain_date(day)
        if self.around_the_clock:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    @staticmethod
    def trading_day(day: date) -> int:
        """`day` as the core's trading day number, YYYYMMDD."""
        day = _plain_date(day)
        return day.year * 10_000 + day.month * 100 + day.day

    def is_open(self, now: datetime) -> bool:
        """Whether a session is open at `now`: open at the open instant, closed at the close."""
        return self.session_at(now) is not None

    def session_at(self, now: datetime) -> int | None:
        """The trading day in session at `now`, or None when the market is closed."""
        t = _utc(now)
        local = t.astimezone(self._zone).date()
        # Normally the session of the local date; the neighbours only matter when a
        # daylight-saving shift moves an open or close instant across midnight.
        for day in (local, local - _DAY, local + _DAY):
            session = self._session(day)
            if session is not None and session[0] <= t < session[1]:
                return self.trading_day(day)
        return None

    def next_open(self, now: datetime) -> datetime:
        """The first open strictly after `now` (UTC); ValueError past `SEARCH_DAYS`."""
        t = _utc(now)
        return next(opens for _, opens, _ in self._upcoming(t) if opens > t)

    def next_close(self, now: datetime) -> datetime:
        """The first close strictly after `now` (UTC): today's if in session."""
        return next(self._upcoming(_utc(now)))[2]

    def next_transition(self, now: datetime) -> Transition:
        """The first transition strictly after `now`: when to wake up next.

        At `now` every transition at or before `now` has taken effect (that is
        what `is_open(now)` says), so the one returned is still to come. To act
        on it, inject `transitions(last, woke)`: that also catches the second
        command of a same-instant pair (always-open mode) and any transition
        missed while the engine was paused.
        """
        t = _utc(now)
        day, opens, closes = next(self._upcoming(t))
        if opens > t:
            return opens, OpenSession(trading_day=self.trading_day(day))
        return closes, CloseSession()

    def transitions(self, start: datetime, end: datetime) -> list[Transition]:
        """Every open and close in (start, end], in order: what takes the state at
        `start` to the state at `end`. Instants are UTC; empty when start == end."""
        first, last = _utc(start), _utc(end)
        if last < first:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        found: list[Transition] = []
        day = first.astimezone(self._zone).date() - _DAY
        stop = last.astimezone(self._zone).date() + _DAY
        while day <= stop:
            session = self._session(day)
            if session is not None:
                opens, closes = session
                if first < opens <= last:
                    found.append((opens, OpenSession(trading_day=self.trading_day(day))))
                if first < closes <= last:
                    found.append((closes, CloseSession()))
            day += _DAY
        return found

    # -------------------------------------------------------------- internal

    def _at(self, day: date, moment: time) -> datetime:
        """The UTC instant of a local wall time; in a DST gap or fold, the first reading."""
        return datetime.combine(day, moment, self._zone).astimezone(UTC)

    def _session(self, day: date) -> tuple[datetime, datetime] | None:
        """The [open, close) instants of `day`'s session, or None if it has none."""
        try:
            return self._sessions[day]
        except KeyError:
            pass
        session: tuple[datetime, datetime] | None
        if self.around_the_clock:
            session = self._at(day, _MIDNIGHT), self._at(day + _DAY, _MIDNIGHT)
        elif day.weekday() not in self.weekdays or day in self.holidays:
            session = None
        else:
            opens, closes = self._at(day, self.open), self._at(day, self.close)
            # A daylight-saving jump can swallow a session (open in the gap, close
            # just after it): then there is none, rather than an empty one.
            session = (opens, closes) if opens < closes else None
        if len(self._sessions) >= _CACHED_DAYS:
            self._sessions.clear()  # a long backtest must not grow it without bound
        self._sessions[day] = session
        return session

    def _upcoming(self, t: datetime) -> Iterator[tuple[date, datetime, datetime]]:
        """Sessions that close after `t`, in order; bounded, so a calendar that is
        all holidays raises instead of looping forever."""
        day = t.astimezone(self._zone).date() - _DAY
        idle = 0
        while idle <= SEARCH_DAYS:
            session = self._session(day)
            if session is not None and session[1] > t:
                idle = 0
                yield day, *session
            else:
                idle += 1
            day += _DAY
        raise ValueError(
            f"no trading day in the {SEARCH_DAYS} days from {day - idle * _DAY}: "
            "are the weekdays all holidays?"
        )


def _load_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a ValueError that names it (ZoneInfo raises a KeyError)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"timezone must be an IANA name such as 'Asia/Tehran', not {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown timezone {name!r}") from error


def _weekdays(value: object) -> frozenset[int]:
    """["sat", "sun", ...] as `date.weekday()` numbers; unknown or repeated names are errors."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"weekdays must be a non-empty list such as ['sat', 'sun'], not {value!r}")
    days: set[int] = set()
    for item in value:
        name = item.lower() if isinstance(item, str) else item
        if name not in WEEKDAY_NAMES:
            raise ValueError(f"weekdays: {item!r} is not one of {', '.join(WEEKDAY_NAMES)}")
        number = WEEKDAY_NAMES.index(name)
        if number in days:
            raise ValueError(f"weekdays: {item!r} is listed twice")
        days.add(number)
    return frozenset(days)


def _clock(key: str, value: object) -> time:
    """'HH:MM' or 'HH:MM:SS' as a time; stricter than time.fromisoformat, which
    also takes '0900', fractions and UTC offsets."""
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{key} must be HH:MM (24-hour local time), not {value!r}")
    hours, minutes, seconds = match.groups()
    return time(int(hours), int(minutes), int(seconds or 0))


def _holidays(value: object) -> frozenset[date]:
    """["YYYY-MM-DD", ...] as dates; a malformed or repeated date is an error."""
    if not isinstance(value, list):
        raise ValueError(f"holidays must be a list of 'YYYY-MM-DD' dates, not {value!r}")
    days: set[date] = set()
    for item in value:
        if not isinstance(item, str) or not _ISO_DATE.fullmatch(item):
            raise ValueError(f"holidays: {item!r} is not a YYYY-MM-DD date")
        try:
            day = date.fromisoformat(item)
        except ValueError as error:
            raise ValueError(f"holidays: {item!r} is not a real date ({error})") from error
        if day in days:
            raise ValueError(f"holidays: {item} is listed twice")
        days.add(day)
    return frozenset(days)
