"""The dashboard in a real browser: headless Debian chromium driven by Selenium."""

import asyncio
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from shopfloor.service import Platform

from .conftest import running

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER) and os.environ.get("CI") != "true",
    reason="chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
)


def _browser():  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM or "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,900",
        f"--user-data-dir={tempfile.mkdtemp(prefix='sf-chrome-')}",
    ):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER or "/usr/bin/chromedriver"), options=opts)


def _drive(port: int, post) -> dict:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver = _browser()
    try:
        wait = WebDriverWait(driver, 15)
        driver.get(f"http://127.0.0.1:{port}/")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".node")))
        # open the tree down to the cutter and click it
        for name in ("Converting", "Line1"):
            node = wait.until(
                ec.element_to_be_clickable(
                    (By.XPATH, f"//div[contains(@class,'node')][.//span[text()='{name}']]")
                )
            )
            node.click()
        wait.until(
            ec.element_to_be_clickable((By.XPATH, "//div[contains(@class,'node')][.//span[text()='Cutter']]"))
        ).click()
        cell = wait.until(ec.presence_of_element_located((By.ID, "v-force")))
        post(1111.0)
        wait.until(lambda d: "1111" in d.find_element(By.ID, "v-force").text)
        post(2222.0)
        wait.until(lambda d: "2222" in d.find_element(By.ID, "v-force").text)
        charts = driver.find_elements(By.CSS_SELECTOR, ".chart canvas")
        shown = cell.text
        driver.save_screenshot(str(ARTIFACTS / "machine-page.png"))
        # an alarm: raise it, see it in the console, acknowledge it
        post(4000.0)
        driver.get(f"http://127.0.0.1:{port}/#/alarms")
        wait.until(lambda d: "UNACK" in d.find_element(By.ID, "alarm-rows").text)

        def click_ack(d):  # type: ignore[no-untyped-def]
            d.find_element(By.CSS_SELECTOR, "#alarm-rows [data-act='ack']").click()
            return True

        WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,)).until(click_ack)
        wait.until(lambda d: "acked" in d.find_element(By.ID, "alarm-rows").text)
        driver.save_screenshot(str(ARTIFACTS / "alarms.png"))
        driver.get(f"http://127.0.0.1:{port}/#/deadletters")
        wait.until(ec.presence_of_element_located((By.XPATH, "//h1[text()='Dead letters']")))
        driver.save_screenshot(str(ARTIFACTS / "dead-letters.png"))
        return {"charts": len(charts), "value": shown}
    finally:
        driver.quit()


async def test_live_value_changes_in_the_browser(tmp_path: Path) -> None:
    async with running(tmp_path / "data") as p:
        port = p.http_port
        assert port

        def post(value: float) -> None:
            body = {"asset": "mill/converting/line1/cutter", "ts": time.time(), "values": {"force": value}}
            r = httpx.post(f"http://127.0.0.1:{port}/api/v1/ingest", content=json.dumps(body), timeout=5)
            assert r.status_code == 200, r.text

        result = await asyncio.to_thread(_drive, port, post)
        assert result["charts"] >= 1
        assert "2222" in result["value"]
        assert isinstance(p, Platform)
        journal = [j for j in await p.rules.journal() if j.get("user") == "operator"]
        assert journal, "the acknowledgement was not journalled"


def _drive_health_and_maintenance(port: int) -> dict:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser()
    try:
        wait = WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,))
        driver.get(f"http://127.0.0.1:{port}/#/health")
        wait.until(lambda d: "v1" in d.find_element(By.ID, "health-rows").text)
        health = driver.find_element(By.ID, "health-rows").text
        driver.save_screenshot(str(ARTIFACTS / "health.png"))
        driver.get(f"http://127.0.0.1:{port}/#/maintenance")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.gantt rect"))
        bars = len(driver.find_elements(By.CSS_SELECTOR, "svg.gantt rect"))

        def release(d):  # type: ignore[no-untyped-def]
            d.find_element(By.CSS_SELECTOR, "#wo-rows [data-to='released']").click()
            return True

        wait.until(release)
        wait.until(lambda d: "released" in d.find_element(By.ID, "wo-rows").text)
        driver.save_screenshot(str(ARTIFACTS / "maintenance.png"))
        return {"health": health, "bars": bars}
    finally:
        driver.quit()


async def test_health_and_maintenance_pages(tmp_path: Path) -> None:
    import random
    import tomllib

    async with running(tmp_path / "data") as p:
        port = p.http_port
        p.scorer.train_rows = 30
        rng, now = random.Random(2), time.time()
        body = [
            {
                "asset": "mill/converting/line1/cutter",
                "ts": now - 60 + i,
                "values": {"force": 800 + rng.gauss(0, 20), "temp": 40 + rng.gauss(0, 1), "cuts": i},
            }
            for i in range(50)
        ]
        async with httpx.AsyncClient() as c:
            assert (
                await c.post(f"http://127.0.0.1:{port}/api/v1/ingest", content=json.dumps(body))
            ).status_code == 200
            plan = tomllib.loads(
                (Path(__file__).parents[2] / "examples" / "maintenance-plan.toml").read_text()
            )
            r = await c.post(f"http://127.0.0.1:{port}/api/v1/maintenance/plan?create_orders=true", json=plan)
            assert r.status_code == 200, r.text
        result = await asyncio.to_thread(_drive_health_and_maintenance, port)
        assert "mill/converting/line1/cutter" in result["health"]
        assert result["bars"] >= 2
        from shopfloor.maintenance.workorders import WorkOrderBook

        assert [o["state"] for o in await WorkOrderBook(p.state).list(states=["released"])]  # the click stuck
