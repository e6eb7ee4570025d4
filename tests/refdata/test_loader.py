"""The shipped listing loads, and a bad file is refused with a clear error."""

from pathlib import Path

import pytest

from exchange.core import ExchangeCore
from exchange.core.events import InstrumentAdded
from exchange.refdata import COLUMNS, load_instruments

HEADER = ",".join(COLUMNS)
GOOD = "FOOLAD,Mobarakeh Steel,5000,1,1,100000,500,1000000"


def test_the_shipped_file_lists_100_valid_symbols() -> None:
    instruments = load_instruments()
    assert len(instruments) == 100
    assert len({i.symbol for i in instruments}) == 100
    core = ExchangeCore()
    for instrument in instruments:
        (event,) = core.apply(instrument, 1)
        assert type(event) is InstrumentAdded  # the core accepts every one of them
        assert event.low_price < event.reference_price < event.high_price


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("symbol,name\n" + GOOD, "line 1: header"),
        (f"{HEADER}\n{GOOD}\n{GOOD}", "line 3, column symbol: 'FOOLAD' is taken"),
        (f"{HEADER}\nFOOLAD,Steel,50.5,1,1,100000,500,1000000", "line 2, column reference_price"),
        (f"{HEADER}\nFOOLAD,Steel,,1,1,100000,500,1000000", "column reference_price"),
        (
            f"{HEADER}\nFOOLAD,Steel,5000,0,1,100000,500,1000000",
            "column tick_size: must be positive",
        ),
        (f"{HEADER}\nFOOLAD,Steel,5005,10,1,100000,500,1000000", "not a multiple of the tick"),
        (f"{HEADER}\nfoolad,Steel,5000,1,1,100000,500,1000000", "column symbol"),
        (f"{HEADER}\nIRR,Rial,5000,1,1,100000,500,1000000", "is taken"),
        (f"{HEADER}\nFOOLAD,Steel,5000,1,1,100000", "expected 8 columns"),
        (f"{HEADER}\n", "no instruments"),
    ],
)
def test_bad_files_are_refused_with_the_line_and_column(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "symbols.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_instruments(path)
