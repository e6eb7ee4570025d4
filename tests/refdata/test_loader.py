"""The shipped listing loads and is valid; a bad file is refused with its line and column."""

import csv
import re
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core import AddInstrument, ExchangeCore
from exchange.core.events import InstrumentAdded
from exchange.refdata import COLUMNS, InstrumentFileError, load_instruments, parse_instruments

HEADER = ",".join(COLUMNS)
GOOD = "FOOLAD,Mobarakeh Steel,5000,1,1,100000,500,1000000"
ARABIC_INDIC_5000 = "\u0665\u0660\u0660\u0660"  # str.isdigit() and int() take these


def row(**changes: str) -> str:
    """GOOD with some columns changed."""
    fields = dict(zip(COLUMNS, GOOD.split(","), strict=True)) | changes
    return ",".join(fields[c] for c in COLUMNS)


# ------------------------------------------------------------ the shipped file


def test_the_shipped_file_lists_100_unique_symbols() -> None:
    instruments = load_instruments()
    assert len(instruments) == 100
    assert len({i.symbol for i in instruments}) == 100
    assert all(type(i) is AddInstrument for i in instruments)


def test_the_shipped_file_has_valid_fields() -> None:
    for i in load_instruments():
        assert re.fullmatch(r"[A-Z][A-Z0-9]{1,11}", i.symbol), i.symbol
        assert i.name.strip() == i.name and i.name, i.symbol
        assert 1_000 <= i.reference_price <= 300_000, i.symbol
        assert i.tick_size == 1 and i.lot_size == 1, i.symbol
        assert i.reference_price % i.tick_size == 0, i.symbol
        assert 100_000 <= i.max_order_quantity <= 500_000, i.symbol
        assert i.band_bps == 500 and i.daily_limit == 1_000_000, i.symbol
        for value in (i.reference_price, i.tick_size, i.lot_size, i.max_order_quantity):
            assert type(value) is int


def test_the_shipped_file_is_varied_and_modelled_on_tehran() -> None:
    instruments = load_instruments()
    prices = [i.reference_price for i in instruments]
    assert len(set(prices)) >= 90
    assert min(prices) < 2_000 and max(prices) > 200_000
    assert len({i.max_order_quantity for i in instruments}) >= 3
    assert len({i.name for i in instruments}) == 100
    symbols = {i.symbol for i in instruments}
    for ticker in ("FOOLAD", "KHODRO", "KHESAPA", "SAIPA", "SHEPNA", "FAMLI", "VABEMELLAT",
                   "VATEJARAT", "SHASTA", "FARS"):  # fmt: skip
        assert ticker in symbols


def test_the_shipped_file_keeps_file_order_and_loads_by_path_too(tmp_path: Path) -> None:
    text = resources.files("exchange.refdata").joinpath("symbols.csv").read_text("utf-8")
    in_file = [r[0] for r in list(csv.reader(text.splitlines()))[1:]]
    assert [i.symbol for i in load_instruments()] == in_file
    copy = tmp_path / "copy.csv"
    copy.write_text(text)
    assert load_instruments(copy) == load_instruments()
    assert load_instruments(str(copy)) == load_instruments()


def test_the_core_accepts_every_shipped_instrument() -> None:
    core = ExchangeCore()
    for instrument in load_instruments():
        (event,) = core.apply(instrument, 1)
        assert type(event) is InstrumentAdded, event
        assert event.low_price < event.reference_price < event.high_price


# ------------------------------------------------------------------ good files


def test_other_tick_sizes_are_supported(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text(f"{HEADER}\n{row(reference_price='5010', tick_size='10', lot_size='100')}\n")
    (instrument,) = load_instruments(path)
    assert (instrument.tick_size, instrument.lot_size, instrument.reference_price) == (
        10,
        100,
        5010,
    )
    (event,) = ExchangeCore().apply(instrument, 1)
    assert type(event) is InstrumentAdded


def test_a_byte_order_mark_and_windows_line_ends_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(f"\ufeff{HEADER}\r\n{GOOD}\r\n".encode())
    assert [i.symbol for i in load_instruments(path)] == ["FOOLAD"]


def test_quoted_names_may_hold_commas() -> None:
    (instrument,) = parse_instruments(f"{HEADER}\n{row(name=chr(34) + 'Saipa, Group' + chr(34))}")
    assert instrument.name == "Saipa, Group"


# ------------------------------------------------------------------- bad files


BAD = [
    ("", "line 1: header must be"),
    ("symbol,name\n" + GOOD, "line 1: header must be symbol,name,reference_price"),
    (HEADER.replace("tick_size,lot_size", "lot_size,tick_size") + "\n" + GOOD, "line 1: header"),
    (HEADER.upper() + "\n" + GOOD, "line 1: header"),
    (f"{HEADER}\n", "line 1: no instruments"),
    (
        f"{HEADER}\n{GOOD}\n{GOOD}",
        "line 3, column symbol: 'FOOLAD' is listed twice .first on line 2",
    ),
    (f"{HEADER}\n{GOOD}\n\n{row(symbol='KHODRO')}", "line 3: blank line"),
    (f"{HEADER}\nFOOLAD,Steel,5000,1,1,100000", "line 2: expected 8 columns, got 6"),
    (f"{HEADER}\n{GOOD},extra", "line 2: expected 8 columns, got 9"),
    (f"{HEADER}\n{row(reference_price='50.5')}", "line 2, column reference_price: '50.5' is not"),
    (f"{HEADER}\n{row(reference_price='5e3')}", "column reference_price: '5e3' is not a whole"),
    (f"{HEADER}\n{row(reference_price='')}", "line 2, column reference_price: blank is not"),
    (f"{HEADER}\n{row(max_order_quantity='-100')}", "column max_order_quantity: '-100' is not"),
    (f"{HEADER}\n{row(lot_size='+1')}", "column lot_size: '\\+1' is not"),
    (f"{HEADER}\n{row(daily_limit=' 1000')}", "column daily_limit: ' 1000' is not"),
    (f"{HEADER}\n{row(reference_price=ARABIC_INDIC_5000)}", "column reference_price"),
    (f"{HEADER}\n{row(tick_size='²')}", "column tick_size"),
    (f"{HEADER}\n{row(tick_size='0')}", "line 2, column tick_size: 0 must be positive"),
    (f"{HEADER}\n{row(band_bps='0')}", "column band_bps: 0 must be positive"),
    (f"{HEADER}\n{row(band_bps='10000')}", "column band_bps: 10000 must be below 10000"),
    (f"{HEADER}\n{row(daily_limit='9' * 5000)}", "column daily_limit: .* exceeds"),
    (
        f"{HEADER}\n{row(reference_price=str(10**14))}",
        "column max_order_quantity: reference_price x",
    ),
    (f"{HEADER}\n{row(reference_price='5005', tick_size='10')}", "not a multiple of the tick size"),
    (f"{HEADER}\n{row(symbol='foolad')}", "line 2, column symbol: 'foolad' must be 2 to 12"),
    (f"{HEADER}\n{row(symbol='F')}", "column symbol: 'F' must be"),
    (f"{HEADER}\n{row(symbol='ABCDEFGHIJKLM')}", "column symbol: 'ABCDEFGHIJKLM'"),
    (f"{HEADER}\n{row(symbol='FOO-LAD')}", "column symbol"),
    (f"{HEADER}\n{row(symbol='1FOOLAD')}", "column symbol: '1FOOLAD' must be .* starting with"),
    (f"{HEADER}\n{row(symbol='FOOLÄD')}", "column symbol"),
    (f"{HEADER}\n{row(symbol='')}", "column symbol"),
    (f"{HEADER}\n{row(symbol='IRR')}", "column symbol: 'IRR' is the cash asset"),
    (f"{HEADER}\n{row(name='')}", "line 2, column name"),
    (f"{HEADER}\n{row(name=' Steel')}", "column name"),
    (f'{HEADER}\n{GOOD}\nKHODRO,"Iran Khodro,2510,1,1,1,1,1', "bad CSV"),
]


@pytest.mark.parametrize(("content", "message"), BAD)
def test_bad_files_are_refused_with_the_line_and_column(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "symbols.csv"
    path.write_text(content, "utf-8")
    with pytest.raises(ValueError, match=message) as caught:
        load_instruments(path)
    assert str(caught.value).startswith(f"{path}, line ")


def test_the_error_carries_where_and_what() -> None:
    with pytest.raises(InstrumentFileError) as caught:
        parse_instruments(f"{HEADER}\n{GOOD}\n{row(symbol='KHODRO', tick_size='x')}", "list.csv")
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.source, error.line, error.column) == ("list.csv", 3, "tick_size")
    assert str(error) == "list.csv, line 3, column tick_size: 'x' is not a whole number"


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_instruments(tmp_path / "missing.csv")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('ABZ019,."\n\r -+x\u0665'), max_size=80))
def test_any_bytes_after_the_header_load_or_fail_with_a_file_error(tail: str) -> None:
    try:
        instruments = parse_instruments(f"{HEADER}\n{tail}")
    except InstrumentFileError:
        return
    core = ExchangeCore()
    for instrument in instruments:  # whatever passes, the core accepts
        (event,) = core.apply(instrument, 1)
        assert type(event) is InstrumentAdded


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(r"[A-Z][A-Z0-9]{1,11}", fullmatch=True).filter(lambda s: s != "IRR"),
    st.integers(1, 10**6),
    st.integers(1, 10**4),
    st.integers(1, 10**4),
    st.integers(1, 10**6),
    st.integers(1, 9_999),
    st.integers(1, 10**12),
)
def test_valid_rows_load_exactly(
    symbol: str, ticks: int, tick: int, lot: int, max_qty: int, band: int, limit: int
) -> None:
    line = f"{symbol},Some Company,{ticks * tick},{tick},{lot},{max_qty},{band},{limit}"
    (instrument,) = parse_instruments(f"{HEADER}\n{line}\n")
    assert instrument == AddInstrument(
        symbol=symbol,
        name="Some Company",
        tick_size=tick,
        lot_size=lot,
        reference_price=ticks * tick,
        max_order_quantity=max_qty,
        band_bps=band,
        daily_limit=limit,
    )
    (event,) = ExchangeCore().apply(instrument, 1)
    assert type(event) is InstrumentAdded
