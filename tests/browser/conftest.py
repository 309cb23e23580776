"""`browser`: one headless Chromium per test module (tests/browser/support.py)."""
import pytest

from tests.browser.support import chromium


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b
