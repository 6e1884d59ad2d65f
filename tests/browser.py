"""Open an HTML page in headless Debian Chromium with the network switched off, and report what a
reader's browser would see: console errors, attempted requests, images, MathML layout."""
import base64
import json
import shutil
import tempfile
from pathlib import Path


def browser_available() -> bool:
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def inspect_page(html_path, screenshot=None) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="chromium-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1000", f"--user-data-dir={profile}",
                # no route to any host: a page that needs the network shows it here
                "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
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
        console = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        requests = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                url = msg["params"]["request"]["url"]
                if url.startswith(("http:", "https:", "ws:", "wss:", "ftp:")):   # chrome:// is the browser itself
                    requests.append(url)
        if screenshot is not None:
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                                    "fromSurface": True})
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return dict(state, console_errors=console, external_requests=requests)
