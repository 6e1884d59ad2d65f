"""Open an HTML page in headless Debian Chromium with the network switched off, and report what a
reader's browser would see: console errors, attempted requests, images, MathML layout."""

import base64
import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def browser_available() -> bool:
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


@contextmanager
def offline_browser():
    """Headless Chromium with no route to any host; yields the selenium driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="chromium-")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
        # no route to any host: a page that needs the network shows it here
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _errors_and_requests(driver) -> dict:
    """Severe console messages and every network request the page attempted."""
    console = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    requests = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if url.startswith(("http:", "https:", "ws:", "wss:", "ftp:")):  # chrome:// is the browser itself
                requests.append(url)
    return dict(console_errors=console, external_requests=requests)


def inspect_page(html_path, screenshot=None) -> dict:
    with offline_browser() as driver:
        driver.get(Path(html_path).resolve().as_uri())
        driver.execute_script("return document.fonts.ready")
        state = driver.execute_script("""
            const imgs = [...document.images].map(i => ({src: i.src.slice(0, 40), complete: i.complete,
                width: i.naturalWidth, height: i.naturalHeight}));
            const maths = [...document.querySelectorAll('math')].map(m => {
                const r = m.getBoundingClientRect();
                return {width: r.width, height: r.height, display: getComputedStyle(m).display};
            });
            return {images: imgs, maths: maths,
                    claim_rows: document.querySelectorAll('table.claims tbody tr').length,
                    title: document.title};
        """)
        state.update(_errors_and_requests(driver))
        if screenshot is not None:
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True, "fromSurface": True},
            )
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
    return state


_VISIBLE_CLAIMS = """
    const table = document.querySelector('table.claims');
    return [...table.tBodies[0].rows].filter(r => !r.hidden)
        .map(r => r.cells[0].childNodes[0].textContent.trim());
"""


def claims_table_interaction(html_path) -> dict:
    """Use the first claims table as a reader would: sort by the measurement column, then show
    only the failing claims (in that order).  Returns the visible claims (first cell) after each step."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with offline_browser() as driver:
        driver.get(Path(html_path).resolve().as_uri())
        out = {"initial": driver.execute_script(_VISIBLE_CLAIMS)}
        table = driver.find_element(By.CSS_SELECTOR, "table.claims")
        table.find_elements(By.CSS_SELECTOR, "thead th")[3].click()  # measurement, ascending
        out["sorted_by_measurement"] = driver.execute_script(_VISIBLE_CLAIMS)
        Select(driver.find_element(By.CSS_SELECTOR, ".claim-filters select[name=verdict]")).select_by_value(
            "fails"
        )
        out["filtered_fails"] = driver.execute_script(_VISIBLE_CLAIMS)
        out["filtered_rows_in_dom"] = driver.execute_script(
            "return document.querySelector('table.claims').tBodies[0].rows.length"
        )
        out.update(_errors_and_requests(driver))
    return out
