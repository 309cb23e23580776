"""What every browser test shares: Debian's Chromium driven by Playwright
(never a downloaded browser), its flags for this closed network, a phone's
viewport, and axe-core's serious and critical findings."""
import contextlib
import os

from tests import realparts

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}


@contextlib.contextmanager
def chromium():
    """A headless Chromium; missing Chromium or Playwright is a missing real part."""
    if not os.access(CHROMIUM, os.X_OK):
        realparts.missing("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        realparts.missing("playwright")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def serious(page):
    from axe_playwright_python.sync_playwright import Axe
    result = Axe().run(page)
    return [(v["id"], v["impact"], v["help"]) for v in result.response["violations"]
            if v["impact"] in ("serious", "critical")]
