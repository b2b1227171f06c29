"""The dashboard in a real headless browser (Debian's Chromium and its driver, installed by
scripts/chromium.sh): the page loads, shows the figures the API returns, and updates live over the
WebSocket after a trade."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from apitest import Keys, bearer, start_server
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.support.ui import WebDriverWait

from solvent.ledger import schema
from solvent.ledger.store import Ledger

REPO = Path(__file__).resolve().parents[2]
WAIT = 60  # seconds a page may take to show something on a loaded 2-core machine


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of the browser and its driver (installed with apt-get when absent)."""
    proc = subprocess.run(
        [str(REPO / "scripts" / "chromium.sh")], capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        message = f"Chromium unavailable (chromium.sh): {proc.stderr.strip()[-500:]}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    browser, driver = proc.stdout.split()[-2:]
    return browser, driver


@pytest.fixture
def browser(chromium: tuple[str, str], tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = chromium[0]
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=DriverService(chromium[1]))
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: webdriver.Chrome, element_id: str) -> str:
    """The text of an element, read in one script (the page may re-render between calls)."""
    text = driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
        element_id,
    )
    return str(text)


def _cells(driver: webdriver.Chrome, selector: str) -> list[str]:
    """The texts of every element matching ``selector``, read in one script."""
    texts = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent);",
        selector,
    )
    return [str(t) for t in texts]


def _row(driver: webdriver.Chrome, account: str) -> list[str]:
    return _cells(driver, f'#riskiest tr[data-account="{account}"] td')


@pytest.mark.slow
def test_dashboard_shows_the_api_figures_and_updates_after_a_trade(
    browser: webdriver.Chrome, template: tuple[Path, Keys], keys: Keys, tmp_path: Path
) -> None:
    db = tmp_path / "dash.db"
    shutil.copyfile(template[0], db)
    server = start_server(f"sqlite:///{db}", None, tmp_path / "serve.log")  # embedded market
    url = server.url
    try:
        api = httpx.Client(base_url=url, headers=bearer(keys.operator), timeout=30)
        accounts = api.get("/v1/accounts?riskiest=10").json()
        market = api.get("/v1/market").json()

        browser.get(f"{url}/#key={keys.operator}")
        wait = WebDriverWait(browser, WAIT)
        wait.until(lambda d: _text(d, "live-status") == "live")
        wait.until(lambda d: _row(d, "bob"))
        assert "key=" not in browser.current_url  # the key leaves the address bar

        for state, count in accounts["states"].items():
            assert _text(browser, f"state-{state}") == str(count)
        for a in accounts["accounts"]:
            if a["account"] == "alice-hedge":
                continue  # one row per margin unit: alice's
            cells = _row(browser, a["account"])
            assert cells[:5] == [
                a["account"],
                a["state"],
                f"{a['equity_usd']:.2f}",
                f"{a['maintenance_margin_usd']:.2f}",
                f"{a['margin_ratio']:.4f}",
            ]
        assert _text(browser, "as-of") == f"market: {market['as_of']}"
        for underlying, surface in market["vol_surface"].items():
            rows = _cells(browser, f"#surface-{underlying} tr")
            assert len(rows) == 1 + len(surface["times"])
            first = _cells(browser, f"#surface-{underlying} tr:nth-child(2) td")
            assert first[1:] == [
                "-" if v is None else f"{100 * v:.1f}" for v in surface["implied_vol"][0]
            ]
        assert market["vol_surface"], "the embedded chain has surfaces"

        # a trade on bob's account: the page follows the stream and shows the new figures
        mark = next(i for i in market["instruments"] if i["name"] == "BTC-PERPETUAL")
        r = httpx.post(
            f"{url}/v1/accounts/bob/trades",
            headers=bearer(keys.bob),
            json={
                "instrument": "BTC-PERPETUAL",
                "quantity": "0.5",
                "price": str(mark["mark_price"]),
            },
        )
        assert r.status_code == 201, r.text
        rows = api.get("/v1/accounts?riskiest=10").json()["accounts"]
        after = next(a for a in rows if a["account"] == "bob")
        assert after["maintenance_margin_usd"] > 0 and after["liquidation_distance"] > 0
        expected = f"{after['maintenance_margin_usd']:.2f}"
        wait.until(lambda d: _row(d, "bob")[3] == expected)
        assert _row(browser, "bob")[4:] == [
            f"{after['margin_ratio']:.4f}",
            f"{100 * after['liquidation_distance']:.1f} %",
        ]

        # a liquidation the real-time engine writes to the ledger appears in the events table
        ledger = Ledger.open(f"sqlite:///{db}")
        try:
            with ledger.transaction() as tx:
                tx.connection.execute(
                    schema.realtime_events.insert().values(
                        stream="default",
                        seq=1,
                        tick=1,
                        time=datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
                        kind="liquidation",
                        account="bob",
                        detail=json.dumps({"action": "partial"}),
                    )
                )
        finally:
            ledger.close()
        wait.until(
            lambda d: (
                _cells(d, "#events tbody td")[:4]
                == ["1", "2026-01-05T08:00:00Z", "liquidation", "bob"]
            )
        )
    finally:
        server.stop()


@pytest.mark.slow
def test_dashboard_follows_the_engine_of_a_service_with_a_feed(
    browser: webdriver.Chrome, template: tuple[Path, Keys], keys: Keys, tmp_path: Path
) -> None:
    """``serve --feed``: the market falls after the page has loaded; the engine's tick puts bob's
    leveraged long under water and the page shows it (state and liquidation) without a reload."""
    import threading

    import uvicorn
    from apitest import NOW, PushedSource, free_port, make_service, market

    from solvent.accounts.service import AccountService, MarketFreshness, registry_margin
    from solvent.api.app import create_app
    from solvent.api.live import LiveFeed
    from solvent.api.server import GracefulServer

    source = PushedSource()
    service = make_service(
        template, tmp_path, LiveFeed(policy="none", venue=source.events, label="test")
    )
    AccountService(
        service.ledger, registry_margin, freshness=MarketFreshness(clock=lambda: NOW)
    ).trade("bob", "BTC-PERPETUAL", "5", "100000", market())
    port = free_port()
    server = GracefulServer(
        uvicorn.Config(
            create_app(service), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="dashboard-live-server")
    thread.start()
    try:
        WebDriverWait(browser, WAIT).until(lambda _: server.started)
        browser.get(f"http://127.0.0.1:{port}/#key={keys.operator}")
        wait = WebDriverWait(browser, WAIT)
        wait.until(lambda d: _text(d, "live-status") == "live")
        wait.until(lambda d: _row(d, "bob")[1:2] == ["healthy"])
        assert _cells(browser, "#events tbody td") == []

        source.push_index(82_000.0)  # one tick of the engine
        wait.until(lambda d: _row(d, "bob")[1:2] == ["bankrupt"])
        wait.until(lambda d: _cells(d, "#events tbody td")[2:4] == ["liquidation", "bob"])
        assert _text(browser, "state-bankrupt") == "1"
    finally:
        source.queue.put(None)
        server.should_exit = True
        thread.join(60)
        service.ledger.close()
