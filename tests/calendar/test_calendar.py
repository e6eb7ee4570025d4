"""Saturday-Thursday 09:00-12:30 Asia/Tehran, holidays, config files and the always-open mode."""

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.calendar import SEARCH_DAYS, TradingCalendar, Transition
from exchange.core import CloseSession, ExchangeCore, OpenSession
from exchange.core.events import CommandRejected, SessionClosed, SessionOpened

TEHRAN = ZoneInfo("Asia/Tehran")
CAL = TradingCalendar.default()
ALWAYS = TradingCalendar.always_open()
# 2026-11-26 is a Thursday, 2026-11-27 a Friday, 2026-11-28 a Saturday.
THU, FRI, SAT = date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28)


def tehran(day: date, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss, us), TEHRAN)


def utc(day: date, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), UTC)


# ------------------------------------------------------------- days and hours


def test_the_default_is_saturday_to_thursday_0900_1230_tehran() -> None:
    assert CAL == TradingCalendar() == TradingCalendar.from_dict({})
    assert (CAL.timezone, CAL.open, CAL.close, CAL.holidays) == (
        "Asia/Tehran", time(9), time(12, 30), frozenset()
    )  # fmt: skip
    assert CAL.weekdays == {5, 6, 0, 1, 2, 3}


def test_friday_is_closed_and_thursday_and_saturday_are_open() -> None:
    assert CAL.is_trading_day(THU) and CAL.is_open(tehran(THU, 10))
    assert not CAL.is_trading_day(FRI) and not CAL.is_open(tehran(FRI, 10))
    assert CAL.is_trading_day(SAT) and CAL.is_open(tehran(SAT, 10))
    assert CAL.session_at(tehran(THU, 10)) == 20261126
    assert CAL.session_at(tehran(FRI, 10)) is None


def test_a_holiday_is_closed_and_skipped() -> None:
    cal = TradingCalendar(holidays=frozenset({SAT}))
    assert not cal.is_trading_day(SAT)
    assert not cal.is_open(tehran(SAT, 10))
    assert cal.session_at(tehran(SAT, 10)) is None
    assert cal.next_open(tehran(THU, 13)) == utc(SAT + timedelta(days=1), 5, 30)


def test_the_open_instant_is_open_and_the_close_instant_is_closed() -> None:
    assert not CAL.is_open(tehran(THU, 8, 59, 59, 999_999))
    assert CAL.is_open(tehran(THU, 9))
    assert CAL.is_open(tehran(THU, 12, 29, 59, 999_999))
    assert not CAL.is_open(tehran(THU, 12, 30))
    assert CAL.session_at(tehran(THU, 12, 29, 59)) == 20261126
    assert CAL.session_at(tehran(THU, 12, 30)) is None


def test_trading_day_numbers() -> None:
    assert CAL.trading_day(THU) == 20261126
    assert TradingCalendar.trading_day(date(2027, 1, 2)) == 20270102


# -------------------------------------------------------------- time zones


def test_tehran_is_utc_plus_three_thirty_all_year() -> None:
    assert CAL.is_open(utc(THU, 5, 30))
    assert not CAL.is_open(utc(THU, 5, 29, 59))
    assert CAL.is_open(utc(THU, 8, 59, 59))
    assert not CAL.is_open(utc(THU, 9))
    assert CAL.next_open(utc(THU)) == utc(THU, 5, 30)
    # Iran dropped daylight saving after 2022: summer is UTC+03:30 as well...
    july = date(2026, 7, 1)  # a Wednesday
    assert CAL.next_open(utc(july)) == utc(july, 5, 30)
    assert CAL.next_close(utc(july, 6)) == utc(july, 9)
    # ... and zoneinfo still knows the old summers at UTC+04:30.
    july_2021 = date(2021, 7, 1)  # a Thursday
    assert CAL.next_open(utc(july_2021)) == utc(july_2021, 4, 30)


def test_any_aware_datetime_works_and_answers_are_utc() -> None:
    new_york = datetime(2026, 11, 26, 0, 30, tzinfo=ZoneInfo("America/New_York"))  # 09:00 Tehran
    assert CAL.is_open(new_york)
    fixed = datetime(2026, 11, 26, 9, 0, tzinfo=timezone(timedelta(hours=3, minutes=30)))
    assert CAL.is_open(fixed)
    when, _ = CAL.next_transition(fixed)
    assert when.tzinfo is UTC
    for instant, _ in CAL.transitions(utc(THU), utc(THU) + timedelta(days=3)):
        assert instant.tzinfo is UTC
    assert CAL.next_open(fixed).tzinfo is UTC and CAL.next_close(fixed).tzinfo is UTC


# ---------------------------------------------------------------- transitions


def test_transitions_over_a_week_with_a_holiday() -> None:
    monday = date(2026, 11, 30)
    cal = TradingCalendar(holidays=frozenset({monday}))
    found = cal.transitions(tehran(THU), tehran(date(2026, 12, 3)))
    days = [THU, SAT, date(2026, 11, 29), date(2026, 12, 1), date(2026, 12, 2)]
    expected: list[Transition] = []
    for day in days:
        expected.append((utc(day, 5, 30), OpenSession(trading_day=cal.trading_day(day))))
        expected.append((utc(day, 9), CloseSession()))
    assert found == expected
    assert all(a[0] < b[0] for a, b in pairwise(found))


def test_transitions_are_those_after_start_up_to_and_including_end() -> None:
    opens, closes = tehran(THU, 9), tehran(THU, 12, 30)
    assert CAL.transitions(opens, closes) == [(utc(THU, 9), CloseSession())]
    assert CAL.transitions(opens - timedelta(microseconds=1), opens) == [
        (utc(THU, 5, 30), OpenSession(trading_day=20261126))
    ]
    assert CAL.transitions(opens, opens) == []
    with pytest.raises(ValueError, match="before start"):
        CAL.transitions(closes, opens)


def test_next_transition_open_and_close() -> None:
    assert CAL.next_transition(tehran(THU, 8)) == (
        utc(THU, 5, 30),
        OpenSession(trading_day=20261126),
    )
    assert CAL.next_transition(tehran(THU, 9)) == (utc(THU, 9), CloseSession())  # already open
    assert CAL.next_transition(tehran(THU, 12)) == (utc(THU, 9), CloseSession())
    # After Thursday's close, Friday is skipped.
    assert CAL.next_transition(tehran(THU, 12, 30)) == (
        utc(SAT, 5, 30),
        OpenSession(trading_day=20261128),
    )
    assert CAL.next_open(tehran(THU, 10)) == utc(SAT, 5, 30)
    assert CAL.next_close(tehran(THU, 10)) == utc(THU, 9)
    assert CAL.next_close(tehran(THU, 12, 30)) == utc(SAT, 9)
    assert CAL.next_open(tehran(FRI, 23)) == utc(SAT, 5, 30)


def test_the_search_for_a_trading_day_gives_up_after_a_year_of_holidays() -> None:
    fridays = frozenset(FRI + timedelta(weeks=n) for n in range(60))
    cal = TradingCalendar(weekdays=frozenset({4}), holidays=fridays)  # Fridays only, all off
    for ask in (cal.next_open, cal.next_close, cal.next_transition):
        with pytest.raises(ValueError, match=f"no trading day in the {SEARCH_DAYS} days"):
            ask(tehran(THU))
    assert not cal.is_open(tehran(FRI, 10))
    assert cal.transitions(tehran(THU), tehran(THU) + timedelta(days=400)) == []
    # A year and a bit of holidays: the search reaches the first free Friday.
    cal = TradingCalendar(weekdays=frozenset({4}), holidays=frozenset(sorted(fridays)[:52]))
    assert cal.next_open(tehran(THU)) == utc(FRI + timedelta(weeks=52), 5, 30)


# -------------------------------------------------------------- wrong input


NOW_METHODS: list[Callable[[TradingCalendar, datetime], object]] = [
    TradingCalendar.is_open,
    TradingCalendar.session_at,
    TradingCalendar.next_open,
    TradingCalendar.next_close,
    TradingCalendar.next_transition,
    lambda cal, now: cal.transitions(now, now),
    lambda cal, now: cal.transitions(tehran(THU), now),
]


@pytest.mark.parametrize("method", NOW_METHODS)
@pytest.mark.parametrize("cal", [CAL, ALWAYS])
def test_naive_datetimes_are_refused(
    cal: TradingCalendar, method: Callable[[TradingCalendar, datetime], object]
) -> None:
    with pytest.raises(ValueError, match=r"naive datetime 2026-11-26T10:00:00: .* timezone-aware"):
        method(cal, datetime(2026, 11, 26, 10))


def test_date_methods_refuse_datetimes() -> None:
    # A datetime is a date that never equals one: it would miss every holiday.
    with pytest.raises(TypeError, match="expected a date, not datetime"):
        CAL.is_trading_day(tehran(THU))
    with pytest.raises(TypeError, match="expected a date"):
        CAL.trading_day(tehran(THU))
    with pytest.raises(TypeError, match="expected a datetime, not date"):
        CAL.is_open(THU)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
        ({"timezone": ""}, "timezone must be an IANA name"),
        ({"weekdays": frozenset()}, "weekdays must be a non-empty set"),
        ({"weekdays": frozenset({7})}, "weekdays must be"),
        ({"open": time(13)}, "must open before it closes"),
        ({"open": time(9, tzinfo=UTC)}, "open must be a local time without a timezone"),
        ({"holidays": frozenset({datetime(2026, 11, 28)})}, "holidays must be dates, not datetime"),
        ({"around_the_clock": 1}, "around_the_clock must be True or False"),
    ],
)
def test_bad_calendars_fail_when_built(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TradingCalendar(**kwargs)


def test_a_calendar_is_a_frozen_hashable_value() -> None:
    assert TradingCalendar(holidays={SAT}) == TradingCalendar(holidays=frozenset({SAT}))  # type: ignore[arg-type]
    assert isinstance(TradingCalendar(holidays={SAT}).holidays, frozenset)  # type: ignore[arg-type]
    assert len({CAL, TradingCalendar.default(), ALWAYS, TradingCalendar.always()}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        CAL.open = time(8)  # type: ignore[misc]


# ---------------------------------------------------------------- config


def test_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    path.write_text(
        json.dumps({"timezone": "Asia/Tehran", "weekdays": ["Mon", "tue"], "open": "10:00",
                    "close": "11:00:30", "holidays": ["2026-11-30"]})
    )  # fmt: skip
    cal = TradingCalendar.from_file(path)
    assert cal == TradingCalendar(
        weekdays=frozenset({0, 1}), open=time(10), close=time(11, 0, 30),
        holidays=frozenset({date(2026, 11, 30)}),
    )  # fmt: skip
    assert cal.is_open(tehran(date(2026, 12, 1), 10, 30))  # Tuesday
    assert not cal.is_open(tehran(date(2026, 11, 30), 10, 30))  # a Monday holiday
    assert not cal.is_open(tehran(date(2026, 12, 1), 9, 30))
    assert TradingCalendar.from_file(str(path)) == cal


def test_the_readme_example_and_always_open_in_a_file() -> None:
    readme = {"timezone": "Asia/Tehran", "weekdays": ["sat", "sun", "mon", "tue", "wed", "thu"],
              "open": "09:00", "close": "12:30", "holidays": ["2027-03-21"]}  # fmt: skip
    assert TradingCalendar.from_dict(readme) == TradingCalendar(
        holidays=frozenset({date(2027, 3, 21)})
    )
    assert TradingCalendar.from_dict({"always_open": True}) == ALWAYS


BAD_CONFIGS = [
    ([], "calendar settings must be an object, not list"),
    ({"hours": 3}, "unknown calendar settings: hours .known: always_open, close"),
    ({"timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
    ({"timezone": 3.5}, "timezone must be a string"),
    ({"weekdays": "sat"}, "weekdays must be a non-empty list"),
    ({"weekdays": []}, "weekdays must be a non-empty list"),
    ({"weekdays": ["someday"]}, "weekdays: 'someday' is not one of mon, tue"),
    ({"weekdays": ["saturday"]}, "weekdays: 'saturday' is not one of"),
    ({"weekdays": [5]}, "weekdays: 5 is not one of"),
    ({"weekdays": ["sat", "Sat"]}, "weekdays: 'Sat' is listed twice"),
    ({"open": "9h"}, "open must be HH:MM .24-hour local time., not '9h'"),
    ({"open": "0900"}, "open must be HH:MM"),
    ({"open": "9:00"}, "open must be HH:MM"),
    ({"open": "09:00+03:30"}, "open must be HH:MM"),
    ({"open": "09:00:00.5"}, "open must be HH:MM"),
    ({"close": "24:00"}, "close must be HH:MM"),
    ({"close": 1230}, "close must be HH:MM"),
    ({"open": "13:00"}, "must open before it closes"),
    ({"open": "12:30"}, "must open before it closes"),
    ({"holidays": "2026-11-30"}, "holidays must be a list"),
    ({"holidays": ["tomorrow"]}, "holidays: 'tomorrow' is not a YYYY-MM-DD date"),
    ({"holidays": ["20261130"]}, "holidays: '20261130' is not a YYYY-MM-DD date"),
    ({"holidays": ["2026-W48-1"]}, "is not a YYYY-MM-DD date"),
    ({"holidays": ["2026-02-30"]}, "holidays: '2026-02-30' is not a real date"),
    ({"holidays": [20261130]}, "holidays: 20261130 is not a YYYY-MM-DD date"),
    ({"holidays": ["2026-11-30", "2026-11-30"]}, "holidays: 2026-11-30 is listed twice"),
    ({"always_open": "yes"}, "always_open must be true or false, not 'yes'"),
    ({"always_open": 1}, "always_open must be true or false"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_bad_config_is_refused_with_a_clear_error(config: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TradingCalendar.from_dict(config)


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS[:6])
def test_a_bad_config_file_names_the_file(tmp_path: Path, config: Any, message: str) -> None:
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=f"^{path}: {message}"):
        TradingCalendar.from_file(path)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    path.write_text('{"open": "09:00",}')
    with pytest.raises(ValueError, match=f"^{path}: not valid JSON: .*line 1 column"):
        TradingCalendar.from_file(path)
    with pytest.raises(FileNotFoundError):
        TradingCalendar.from_file(tmp_path / "missing.json")


# -------------------------------------------------------------- always open


def test_always_open_is_open_at_every_instant_and_the_day_is_the_local_date() -> None:
    assert ALWAYS == TradingCalendar.always() == TradingCalendar(around_the_clock=True)
    for moment in (tehran(FRI, 3), tehran(FRI), tehran(THU, 23, 59, 59, 999_999), utc(FRI, 21)):
        assert ALWAYS.is_open(moment)
    assert ALWAYS.is_trading_day(FRI)
    assert ALWAYS.session_at(tehran(FRI, 3)) == 20261127
    assert ALWAYS.session_at(tehran(FRI)) == 20261127  # local midnight starts the new day
    assert ALWAYS.session_at(tehran(THU, 23, 59, 59, 999_999)) == 20261126
    assert ALWAYS.session_at(utc(THU, 20, 30)) == 20261127  # 00:00 Tehran


def test_always_open_rolls_the_day_at_local_midnight_with_a_close_then_an_open() -> None:
    midnight = utc(FRI, 20, 30)  # Saturday 00:00 in Tehran
    assert ALWAYS.next_transition(tehran(FRI, 3)) == (midnight, CloseSession())
    assert ALWAYS.next_close(tehran(FRI, 3)) == midnight
    assert ALWAYS.next_open(tehran(FRI, 3)) == midnight
    # Strictly after: at the midnight instant both have happened already.
    assert ALWAYS.next_transition(midnight) == (midnight + timedelta(days=1), CloseSession())
    assert ALWAYS.transitions(midnight - timedelta(microseconds=1), midnight) == [
        (midnight, CloseSession()),
        (midnight, OpenSession(trading_day=20261128)),
    ]
    assert ALWAYS.transitions(tehran(FRI, 3), tehran(FRI, 3) + timedelta(days=3)) == [
        (midnight + timedelta(days=n), command)
        for n in range(3)
        for command in (CloseSession(), OpenSession(trading_day=20261128 + n))
    ]
    assert ALWAYS.transitions(midnight, midnight + timedelta(hours=23)) == []


def test_always_open_in_another_time_zone() -> None:
    cal = TradingCalendar.always_open("America/New_York")
    now = datetime(2026, 11, 27, 3, tzinfo=UTC)  # 22:00 on the 26th in New York
    assert cal.session_at(now) == 20261126
    assert cal.next_transition(now) == (datetime(2026, 11, 27, 5, tzinfo=UTC), CloseSession())


# ------------------------------------------------------- driving an engine


@pytest.mark.parametrize(
    "cal", [CAL, ALWAYS, TradingCalendar(holidays=frozenset({SAT, date(2026, 12, 1)}))]
)
def test_an_engine_driven_by_the_calendar_never_gets_a_rejected_session_command(
    cal: TradingCalendar,
) -> None:
    """The loop the engine runs: sleep until next_transition, then inject what is due."""
    core = ExchangeCore()
    now = tehran(THU, 10)
    if (day := cal.session_at(now)) is not None:
        core.apply(OpenSession(trading_day=day), 1)
    opened: list[int] = []
    ts = 2
    for _ in range(40):
        wake, _ = cal.next_transition(now)
        wake += timedelta(milliseconds=3)  # the engine wakes a little late
        for _, command in cal.transitions(now, wake):
            for event in core.apply(command, ts):
                assert type(event) in (SessionOpened, SessionClosed), event
                assert type(event) is not CommandRejected
                if type(event) is SessionOpened:
                    opened.append(event.trading_day)
            ts += 1
        now = wake
        assert core.session_open == cal.is_open(now)
        assert (core.trading_day if core.session_open else None) == cal.session_at(now)
    assert opened == sorted(set(opened)) and len(opened) >= 10


# ------------------------------------------------------------ properties


def _calendars() -> st.SearchStrategy[TradingCalendar]:
    return st.sampled_from(
        [
            CAL,
            ALWAYS,
            TradingCalendar(weekdays=frozenset({0, 2, 4}), open=time(23), close=time(23, 59, 59)),
            # Daylight saving: a session in London's spring gap and autumn fold, and the
            # always-open day rolling across Sao Paulo's (former) midnight gap.
            TradingCalendar(
                timezone="Europe/London",
                weekdays=frozenset(range(7)),
                open=time(1, 30),
                close=time(2, 30),
            ),
            TradingCalendar.always_open("America/Sao_Paulo"),
        ]
    )


@st.composite
def _cases(draw: st.DrawFn) -> tuple[TradingCalendar, datetime]:
    """A calendar with up to 8 holidays near an instant between 2015 and 2030."""
    cal = draw(_calendars())
    now = draw(st.datetimes(datetime(2015, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)))
    near = st.integers(-10, 10).map(lambda n: now.date() + timedelta(days=n))
    holidays = draw(st.frozensets(near, max_size=8))
    return dataclasses.replace(cal, holidays=holidays), now


WINDOW = timedelta(days=30)  # longer than any closed stretch in _cases


@settings(max_examples=400, deadline=None)
@given(_cases())
def test_is_open_agrees_with_the_open_close_pairs_from_transitions(
    case: tuple[TradingCalendar, datetime],
) -> None:
    cal, now = case
    before = cal.transitions(now - WINDOW, now)
    assert before, "every calendar here has a transition within the window"
    last = before[-1][1]
    assert cal.is_open(now) == isinstance(last, OpenSession)
    opens = [c for _, c in before if isinstance(c, OpenSession)]
    assert cal.session_at(now) == (opens[-1].trading_day if cal.is_open(now) else None)


@settings(max_examples=400, deadline=None)
@given(_cases())
def test_next_transition_is_the_first_of_the_transitions(
    case: tuple[TradingCalendar, datetime],
) -> None:
    cal, now = case
    after = cal.transitions(now, now + WINDOW)
    assert cal.next_transition(now) == after[0]
    assert cal.next_open(now) == next(w for w, c in after if isinstance(c, OpenSession))
    assert cal.next_close(now) == next(w for w, c in after if isinstance(c, CloseSession))


@settings(max_examples=300, deadline=None)
@given(_cases(), st.integers(1, 20))
def test_transitions_alternate_and_split_anywhere(
    case: tuple[TradingCalendar, datetime], days: int
) -> None:
    cal, start = case
    end = start + timedelta(days=days)
    found = cal.transitions(start, end)
    kinds = [type(c) for _, c in found]
    if kinds:  # alternating, starting from the state at `start`
        first = CloseSession if cal.is_open(start) else OpenSession
        assert kinds == [(first, OpenSession if first is CloseSession else CloseSession)[i % 2]
                         for i in range(len(kinds))]  # fmt: skip
    assert all(a[0] <= b[0] for a, b in pairwise(found))
    if not cal.around_the_clock:
        assert all(a[0] < b[0] for a, b in pairwise(found))
    middle = start + (end - start) / 3
    assert cal.transitions(start, middle) + cal.transitions(middle, end) == found
