"""Numbers in query strings and paths are ASCII digits (review L1): "²" and "١٢" are 422.

On 56b90ba `str.isdigit` let them through: "²" made int() raise, an unhandled 500 with a
traceback in the log (anonymously, on market data), and Arabic-Indic "١٢" was read as 12.
"""

from __future__ import annotations

from starlette.testclient import TestClient

from exchange.marketdata.app import create_app
from tests.engine.test_server import EngineProcess
from tests.marketdata.test_server import config


def test_l1_unicode_digits_are_refused_by_market_data(engine: EngineProcess) -> None:
    with TestClient(create_app(config(engine))) as client:
        for raw in ("%C2%B2", "%D9%A1%D9%A2"):  # "²", "١٢"
            answer = client.get(f"/v1/marketdata/FOOLAD/l2?depth={raw}")
            assert answer.status_code == 422, (raw, answer.text)
            assert answer.json()["error"]["code"] == "INVALID_REQUEST"
        assert client.get("/v1/marketdata/FOOLAD/l2?depth=10").status_code == 200
