"""Search by photo in a real browser: a customer uploads a photo and sees the product's card.

As in tests/dashboard/test_browser.py, every row is written before Playwright starts (its event
loop in this thread makes Django refuse ORM calls).
"""

from pathlib import Path

import pytest

from shopops.store.models import ProductImage
from tests.vision.conftest import train_tiny

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="headless Chromium is not installed at /usr/bin/chromium"
    ),
]


def test_a_customer_finds_a_product_by_photo(
    live_server, shop, tmp_path, django_capture_on_commit_callbacks
):
    # given: an active model, and a customer's photo that is one product's picture
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    train_tiny(django_capture_on_commit_callbacks)
    planted = shop["products"][9]
    photo = tmp_path / "my-photo.png"
    with ProductImage.objects.get(product=planted).image.open("rb") as handle:
        photo.write_bytes(handle.read())

    # when
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{live_server.url}/")
            page.click("nav.shop-account >> text=Search by photo")
            page.wait_for_url(f"{live_server.url}/photo-search/")
            page.set_input_files("input[name=image]", str(photo))
            page.click("text=Find similar products")
            page.wait_for_selector("[data-photo-results]")
            first_card = page.locator(".photo-results .product-card").first
            first_id = first_card.get_attribute("data-product-id")
            first_name = first_card.locator(".name").inner_text()
            first_match = first_card.locator(".similarity").inner_text()
            image_loaded = first_card.locator("img").evaluate("img => img.naturalWidth > 0")
            cards = page.locator(".photo-results .product-card").count()
        finally:
            browser.close()

    # then
    assert first_id == str(planted.pk)
    assert first_name == planted.name
    assert first_match == "100% match"
    assert image_loaded is True
    assert cards == 8
    assert errors == []
