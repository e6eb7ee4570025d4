"""Saturday-Thursday 09:00-12:30 Asia/Tehran, holidays, and the always-open demo mode."""

import json
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.calendar import TradingCalendar
from exchange.core import CloseSession, OpenSession

TEHRAN = ZoneInfo("Asia/Tehran")


def tehran(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=TEHRAN)


CAL = TradingCalendar.default()
# 2026-11-26 is a Thursday, 2026-11-27 a Friday, 2026-11-28 a Saturday.


def test_days_and_hours() -> None:
    assert CAL.is_open(tehran(2026, 11, 26, 10))
    assert not CAL.is_open(tehran(2026, 11, 27, 10))  # Friday
    assert CAL.is_open(tehran(2026, 11, 28, 10))  # Saturday
    assert CAL.is_open(tehran(2026, 11, 26, 9, 0, 0))  # the open instant is open
    assert not CAL.is_open(tehran(2026, 11, 26, 8, 59, 59))
    assert not CAL.is_open(tehran(2026, 11, 26, 12, 30, 0))  # the close instant is closed
    assert CAL.session_at(tehran(2026, 11, 26, 12, 29)) == 20261126
    assert CAL.session_at(tehran(2026, 11, 26, 13)) is None


def test_tehran_is_utc_plus_three_thirty() -> None:
    assert CAL.is_open(datetime(2026, 11, 26, 5, 30, tzinfo=UTC))
    assert not CAL.is_open(datetime(2026, 11, 26, 5, 29, 59, tzinfo=UTC))
    assert CAL.next_open(datetime(2026, 11, 26, 0, 0, tzinfo=UTC)) == datetime(
        2026, 11, 26, 5, 30, tzinfo=UTC
    )
    # No daylight saving since 2022: summer is UTC+03:30 as well.
    assert CAL.next_close(datetime(2026, 7, 1, 6, 0, tzinfo=UTC)) == datetime(
        2026, 7, 1, 9, 0, tzinfo=UTC
    )


def test_holidays_are_closed_and_skipped() -> None:
    cal = TradingCalendar(holidays=frozenset({date(2026, 11, 28)}))
    assert not cal.is_open(tehran(2026, 11, 28, 10))
    assert cal.next_open(tehran(2026, 11, 26, 13)) == tehran(2026, 11, 29, 9).astimezone(UTC)


def test_transitions_over_a_week() -> None:
    cal = TradingCalendar(holidays=frozenset({date(2026, 11, 30)}))
    found = cal.transitions(tehran(2026, 11, 26), tehran(2026, 12, 3))
    opens = [c.trading_day for _, c in found if isinstance(c, OpenSession)]
    assert opens == [20261126, 20261128, 20261129, 20261201, 20261202]
    kinds = [type(c) for _, c in found]
    assert kinds == [OpenSession, CloseSession] * 5
    assert all(a[0] < b[0] for a, b in pairwise(found))
    when, command = cal.next_transition(tehran(2026, 11, 26, 12, 30))
    assert isinstance(command, OpenSession) and command.trading_day == 20261128
    assert when == tehran(2026, 11, 28, 9).astimezone(UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.is_open(datetime(2026, 11, 26, 10))


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    path.write_text(
        json.dumps({"weekdays": ["mon", "tue"], "open": "10:00", "close": "11:00",
                    "holidays": ["2026-11-30"]})
    )  # fmt: skip
    cal = TradingCalendar.from_file(path)
    assert cal.is_open(tehran(2026, 12, 1, 10, 30))  # Tuesday
    assert not cal.is_open(tehran(2026, 11, 30, 10, 30))  # a Monday holiday
    assert not cal.is_open(tehran(2026, 12, 1, 9, 30))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"weekdays": ["someday"]}, "weekdays"),
        ({"open": "9h"}, "open must be HH:MM"),
        ({"open": "13:00"}, "open before it closes"),
        ({"holidays": ["tomorrow"]}, "holidays"),
        ({"timezone": "Mars/Olympus"}, "Mars"),
        ({"hours": 3}, "unknown calendar settings: hours"),
    ],
)
def test_bad_config_is_refused(config: dict, message: str) -> None:
    with pytest.raises(Exception, match=message):
        TradingCalendar.from_dict(config)


def test_always_open_rolls_the_day_at_local_midnight() -> None:
    cal = TradingCalendar.always()
    assert cal.is_open(tehran(2026, 11, 27, 3))  # even on a Friday night
    assert cal.session_at(tehran(2026, 11, 27, 3)) == 20261127
    when, command = cal.next_transition(tehran(2026, 11, 27, 3))
    assert isinstance(command, CloseSession)
    assert when == tehran(2026, 11, 28).astimezone(UTC)
    _, reopen = cal.next_transition(when - timedelta(microseconds=1))
    assert isinstance(reopen, CloseSession)
    after = cal.transitions(when, when + timedelta(seconds=1))
    assert [type(c) for _, c in after] == [CloseSession, OpenSession]


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)))
def test_is_open_agrees_with_the_transitions(moment: datetime) -> None:
    now = moment.replace(tzinfo=UTC)
    before = CAL.transitions(now - timedelta(days=4), now + timedelta(microseconds=1))
    last = before[-1][1] if before else None
    assert CAL.is_open(now) == isinstance(last, OpenSession)
