"""The public page in a real browser: Playwright driving Debian's Chromium, headless.

Engine, gateway and market-data server run as real processes; a trade is
placed through the trading API and must appear on the symbol's page and on
the market overview without a reload. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from exchange.launch import service
from tests.engine.test_server import EngineProcess
from tests.gateway.test_e2e import ADMIN, GatewayProcess, login, new_trader
from tests.launched import beside

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium is not installed at {CHROMIUM} (.ci/run installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def test_a_trade_through_the_api_appears_on_the_public_page(
    tmp_path: Path, browser: Browser
) -> None:
    engine = EngineProcess(tmp_path / "engine")
    engine.start()
    gateway = GatewayProcess(tmp_path / "gateway", engine)
    config = beside(engine, tmp_path / "md")
    base = f"http://127.0.0.1:{config.marketdata.port}"
    marketdata = service("marketdata", config, quiet=True, cwd=ROOT).start()
    try:
        gateway.start()
        marketdata.wait_ready()
        with httpx.Client(base_url=gateway.base, timeout=15) as http:
            admin = login(http, *ADMIN)
            buyer = new_trader(http, admin, 901, IRR=10**10)
            seller = new_trader(http, admin, 902, FOOLAD=10_000)

            page = browser.new_page()
            page.goto(f"{base}/symbol/FOOLAD")
            expect(page.locator("#status")).to_have_text("live")
            http.post("/v1/order", headers=seller["headers"], json={
                "symbol": "FOOLAD", "side": "sell", "type": "limit", "price": 5_440,
                "quantity": 700, "timeInForce": "gtc"})  # fmt: skip
            expect(page.locator("#ladder .ask-row")).to_have_count(1)
            expect(page.locator("#ladder .ask-row")).to_contain_text("5,440")
            market = {"symbol": "FOOLAD", "side": "buy", "type": "market", "quantity": 250}
            bought = http.post("/v1/order", headers=buyer["headers"], json=market).json()
            trade_id = bought["executions"][0]["id"]
            row = page.locator(f'#trades tr.trade[data-id="{trade_id}"]')
            expect(row).to_contain_text("5,440")
            expect(row).to_contain_text("250")
            expect(page.locator("#ladder .ask-row")).to_contain_text("450")  # 700 - 250 left
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "marketdata-symbol.png"), full_page=True)

            overview = browser.new_page()
            overview.goto(f"{base}/")
            foolad = overview.locator("#row-FOOLAD")
            expect(foolad.locator(".last")).to_have_text("5,440")
            expect(foolad.locator(".volume")).to_have_text("250")
            expect(overview.locator("#market tbody tr")).to_have_count(100)
            expect(overview.locator("#status")).to_have_text("live")
            http.post("/v1/order", headers=buyer["headers"], json={
                "symbol": "FOOLAD", "side": "buy", "type": "market", "quantity": 50})  # fmt: skip
            expect(foolad.locator(".volume")).to_have_text("300")  # live, no reload
            overview.screenshot(path=str(ARTIFACTS / "marketdata-overview.png"), full_page=True)
    finally:
        marketdata.stop(grace=30)
        gateway.stop()
        engine.kill(signal.SIGTERM)
