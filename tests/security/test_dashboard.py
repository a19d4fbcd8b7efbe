"""The dashboard in the secure profile, in a real browser: sign-in form, buttons by permission."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from ..api.test_browser import CHROMIUM, DRIVER, _browser
from .conftest import PASSWORD, Secured

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="chromium and chromium-driver are not installed"
)


def _sign_in_and_look(port: int, user: str) -> dict[str, Any]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser()
    try:
        wait = WebDriverWait(driver, 15)
        driver.get(f"http://127.0.0.1:{port}/#/alarms")
        wait.until(ec.presence_of_element_located((By.ID, "login-form")))
        no_tree = driver.find_elements(By.CSS_SELECTOR, ".node") == []
        driver.find_element(By.ID, "login-user").send_keys(user)
        driver.find_element(By.ID, "login-pass").send_keys("not the password")
        driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
        wait.until(lambda d: "wrong" in d.find_element(By.ID, "login-error").text)
        driver.find_element(By.ID, "login-pass").clear()
        driver.find_element(By.ID, "login-pass").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
        wait.until(lambda d: "UNACK" in d.find_element(By.ID, "alarm-rows").text)
        badge = driver.find_element(By.ID, "user").text
        buttons = len(driver.find_elements(By.CSS_SELECTOR, "#alarm-rows [data-act]"))
        acked = False
        if buttons:
            driver.find_element(By.CSS_SELECTOR, "#alarm-rows [data-act='ack']").click()
            wait.until(lambda d: "acked" in d.find_element(By.ID, "alarm-rows").text)
            acked = True
        banner_hidden = driver.find_element(By.ID, "banner").get_attribute("hidden") is not None
        return {
            "no_tree": no_tree,
            "badge": badge,
            "buttons": buttons,
            "acked": acked,
            "banner_hidden": banner_hidden,
        }
    finally:
        driver.quit()


async def test_viewer_sees_no_buttons_operator_acknowledges(secured: Secured) -> None:
    port = secured.platform.settings.api.port or secured.platform.http_port
    body = {"asset": "mill/converting/line1/cutter", "ts": time.time(), "values": {"force": 4000.0}}
    async with httpx.AsyncClient(base_url=secured.base, headers=secured.auth("device")) as c:
        assert (await c.post("/api/v1/ingest", json=body)).status_code == 200
    viewer = await asyncio.to_thread(_sign_in_and_look, port, "vic")
    assert viewer["no_tree"] and "vic (viewer)" in viewer["badge"] and viewer["buttons"] == 0
    assert viewer["banner_hidden"]
    operator = await asyncio.to_thread(_sign_in_and_look, port, "olga")
    assert operator["buttons"] > 0 and operator["acked"]
    journal = await secured.platform.rules.journal()
    assert any(j.get("user") == "olga" and j.get("event") == "ack" for j in journal), journal[:3]
