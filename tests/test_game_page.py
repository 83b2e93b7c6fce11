"""The game page in a real headless browser (Debian's chromium and chromium-driver, driven by
Selenium): both ways of playing, through the page's own JavaScript against the running service.
Skipped, saying why, where no chromium is installed (`apt-get install chromium chromium-driver`);
CI installs them and sets TEXTJOBS_REQUIRE_BROWSER=1, which turns the skip into a failure."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.test_game_service import server  # noqa: F401  (the running service fixture)

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        if os.environ.get("TEXTJOBS_REQUIRE_BROWSER") == "1":  # CI installs them: a skip would hide a failure
            pytest.fail("TEXTJOBS_REQUIRE_BROWSER=1 but chromium or chromedriver is missing")
        pytest.skip("no chromium/chromedriver here: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_text(driver, element_id: str, text: str, timeout: float = 30) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: text in d.find_element(By.ID, element_id).text)
    return driver.find_element(By.ID, element_id).text


def test_you_explain_and_the_model_guesses(browser, server):  # noqa: F811
    from selenium.webdriver.common.by import By

    _, base = server
    browser.get(base + "/")
    browser.find_element(By.ID, "secret").send_keys("oil")
    browser.find_element(By.ID, "hint").send_keys("zzzq")
    browser.find_element(By.ID, "give-hint").click()
    assert "none of the hints" in wait_text(browser, "guess-status", "vocabulary")  # the API's 404, shown
    browser.find_element(By.ID, "hint").clear()
    browser.find_element(By.ID, "hint").send_keys("crude")
    browser.find_element(By.ID, "give-hint").click()
    status = wait_text(browser, "guess-status", "points")
    assert status == 'The model named "oil" after 1 hint(s): 5 points.'
    guesses = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#guesses li")]
    assert any(g.startswith("oil (") for g in guesses) and not any(g.startswith("crude ") for g in guesses)
    assert browser.find_element(By.CSS_SELECTOR, "#guesses li.hit").text.startswith("oil")


def test_the_model_explains_and_you_guess(browser, server):  # noqa: F811
    from selenium.webdriver.common.by import By

    _, base = server
    browser.get(base + "/")
    browser.find_element(By.ID, "new-round").click()
    wait_text(browser, "round-status", "Hint 1 of 5")
    first_hint = browser.find_elements(By.CSS_SELECTOR, "#round-hints li")[0].text
    assert first_hint and first_hint != "oil"
    browser.find_element(By.ID, "round-guess").send_keys("wheat")
    browser.find_element(By.ID, "round-submit").click()
    wait_text(browser, "round-status", "Not it. Hint 2 of 5")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#round-hints li")) == 2
    browser.find_element(By.ID, "round-guess").send_keys("Oil")
    browser.find_element(By.ID, "round-submit").click()
    assert wait_text(browser, "round-status", "points") == 'Right, it was "oil": 4 points.'
    assert not browser.find_element(By.ID, "round-guess").is_enabled()
