"""Headless Chromium for the browser tests: one launch, one staff log-in.

Playwright's sync API runs an event loop in the calling thread while it is open, and Django
refuses ORM calls from a thread with a running loop: write every row before a page opens and
read them back after it closes.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

#: pytestmark for a module of browser tests: marked, and skipped where Chromium is missing.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="headless Chromium is not installed at /usr/bin/chromium"
    ),
]


def chromium_launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def page_open(browser, *, height: int = 900, timeout_ms: int = 10_000):
    """A new page and the list of JavaScript errors it raises."""
    page = browser.new_page(viewport={"width": 1280, "height": height})
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


@contextmanager
def chromium_page() -> Iterator[tuple]:
    """A headless Chromium page and the list of JavaScript errors it raised."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        try:
            yield page_open(browser)
        finally:
            browser.close()


def staff_log_in(page, base_url: str, next_path: str) -> None:
    """Log in as the ``staff_user`` fixture's merchant and land on ``next_path``."""
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", "merchant")
    page.fill("#id_password", "correct horse battery staple")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")


#: For a single browser test in a module of other tests (beside ``@pytest.mark.browser``).
requires_chromium = BROWSER_MARKS[1]
