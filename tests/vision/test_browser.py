"""Search by photo in a real browser: a customer uploads a photo and sees the product's card.

As tests/browser.py says, every row is written before Playwright starts (its event loop in this
thread makes Django refuse ORM calls).
"""

import pytest

from shopops.store.models import ProductImage
from tests.browser import BROWSER_MARKS, chromium_page
from tests.vision.conftest import train_tiny

pytestmark = BROWSER_MARKS


def test_a_customer_finds_a_product_by_photo(
    live_server, shop, tmp_path, django_capture_on_commit_callbacks
):
    # given: an active model, and a customer's photo that is one product's picture
    pytest.importorskip("playwright")
    train_tiny(django_capture_on_commit_callbacks)
    planted = shop["products"][9]
    photo = tmp_path / "my-photo.png"
    with ProductImage.objects.get(product=planted).image.open("rb") as handle:
        photo.write_bytes(handle.read())

    # when
    with chromium_page() as (page, errors):
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

    # then
    assert first_id == str(planted.pk)
    assert first_name == planted.name
    assert first_match == "100% match"
    assert image_loaded is True
    assert cards == 8
    assert errors == []
