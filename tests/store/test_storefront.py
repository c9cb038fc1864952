"""The public storefront: only active products, search, categories, pages and view events."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from shopops.store import storefront
from shopops.store.models import Event, ProductImage
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    home = CategoryFactory(name="Home", slug="home")
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen", parent=home)
    garden = CategoryFactory(name="Garden", slug="garden")
    return {
        "mug": ProductFactory(
            sku="MUG-1", name="Blue mug", price=Decimal("4.5"), category=kitchen, stock=3
        ),
        "lamp": ProductFactory(sku="LAMP-1", name="Desk lamp", price=Decimal("35"), category=home),
        "hose": ProductFactory(
            sku="HOSE-1", name="Garden hose", price=Decimal("1250"), category=garden, stock=0
        ),
        "old": ProductFactory(sku="OLD-1", name="Old mug", category=kitchen, is_active=False),
    }


def _names(response) -> list[str]:
    return [card.name for card in response.context["products"]]


def test_listing_shows_only_active_products_by_name(client, catalogue):
    response = client.get(reverse("storefront:home"))

    html = response.content.decode()
    assert response.status_code == 200
    assert _names(response) == ["Blue mug", "Desk lamp", "Garden hose"]
    assert "Old mug" not in html
    assert '<span class="price">£4.50</span>' in html
    assert '<span class="price">£1,250.00</span>' in html
    assert '<a class="category" href="/?category=kitchen">Kitchen</a>' in html
    assert '<span class="stock-out">Out of stock</span>' in html
    assert f'href="/products/{catalogue["mug"].id}/"' in html
    assert "3 products" in html


def test_listing_shows_each_products_first_image(client, catalogue, settings):
    picture = SimpleUploadedFile("mug.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    ProductImage.objects.create(product=catalogue["mug"], image=picture, position=1, alt_text="B")
    first = SimpleUploadedFile("front.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    front = ProductImage.objects.create(
        product=catalogue["mug"], image=first, position=0, alt_text="Mug from the front"
    )

    response = client.get(reverse("storefront:home"))

    cards = {card.name: card for card in response.context["products"]}
    assert cards["Blue mug"].image_url == f"/media/{front.image.name}"
    assert cards["Blue mug"].image_alt == "Mug from the front"
    assert cards["Desk lamp"].image_url == ""
    assert f'<img src="/media/{front.image.name}" alt="Mug from the front"' in (
        response.content.decode()
    )


def test_listing_needs_a_fixed_number_of_queries(client, catalogue, django_assert_num_queries):
    for number in range(30):
        ProductFactory(name=f"Extra {number}", category=catalogue["mug"].category)

    # categories, count, one page of products (with category and first image)
    with django_assert_num_queries(3):
        client.get(reverse("storefront:home"))


def test_search_matches_names_and_exact_skus(client, catalogue):
    by_name = client.get(reverse("storefront:home"), {"q": "MUG"})
    by_sku = client.get(reverse("storefront:home"), {"q": "lamp-1"})
    nothing = client.get(reverse("storefront:home"), {"q": "piano"})

    assert _names(by_name) == ["Blue mug"]
    assert _names(by_sku) == ["Desk lamp"]
    assert _names(nothing) == []
    assert "Nothing matches “piano”." in nothing.content.decode()
    assert "<h1>Results for “MUG”</h1>" in by_name.content.decode()
    assert "1 result</span>" in by_name.content.decode()


def test_search_is_recorded_as_a_search_event(client, catalogue):
    client.get(reverse("storefront:home"), {"q": " mug "})

    event = Event.objects.get()
    assert (event.event_type, event.query, event.customer, event.product) == (
        "search",
        "mug",
        None,
        None,
    )
    assert event.session_key == client.session.session_key


def test_category_filter_includes_subcategories(client, catalogue):
    home = client.get(reverse("storefront:home"), {"category": "home"})
    kitchen = client.get(reverse("storefront:home"), {"category": "kitchen"})

    assert _names(home) == ["Blue mug", "Desk lamp"]
    assert _names(kitchen) == ["Blue mug"]
    assert client.get(reverse("storefront:home"), {"category": "nope"}).status_code == 404


def test_category_navigation_lists_categories_with_active_products(client, catalogue):
    response = client.get(reverse("storefront:home"))

    assert [c.name for c in response.context["categories"]] == ["Garden", "Home", "Kitchen"]


def test_listing_is_paginated(client, db):
    for number in range(storefront.PAGE_SIZE + 2):
        ProductFactory(name=f"Product {number:02d}")

    first = client.get(reverse("storefront:home"))
    second = client.get(reverse("storefront:home"), {"page": 2})
    beyond = client.get(reverse("storefront:home"), {"page": 99})

    assert len(first.context["products"]) == storefront.PAGE_SIZE
    assert _names(second) == ["Product 24", "Product 25"]
    assert _names(beyond) == ["Product 24", "Product 25"]
    assert 'href="?page=2" rel="next"' in first.content.decode()
    assert "Page 2 of 2" in second.content.decode()


def test_pagination_links_keep_the_search_and_category(client, db):
    category = CategoryFactory(slug="mugs")
    for number in range(storefront.PAGE_SIZE + 1):
        ProductFactory(name=f"Mug {number:02d}", category=category)

    response = client.get(reverse("storefront:home"), {"q": "mug", "category": "mugs"})

    assert 'href="?q=mug&amp;category=mugs&amp;page=2"' in response.content.decode()


def test_product_page_shows_the_product(client, catalogue):
    mug = catalogue["mug"]

    response = client.get(reverse("storefront:product", args=[mug.id]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Blue mug</h1>" in html
    assert '<p class="price">£4.50</p>' in html
    assert "In stock (3 left)" in html
    assert "<dd>MUG-1</dd>" in html
    assert "<dd>Home / Kitchen</dd>" in html
    assert "{% block widgets %}" not in html


def test_product_page_of_an_inactive_or_unknown_product_is_404(client, catalogue):
    inactive = client.get(reverse("storefront:product", args=[catalogue["old"].id]))
    unknown = client.get(reverse("storefront:product", args=[999_999]))

    assert inactive.status_code == 404
    assert unknown.status_code == 404
    assert not Event.objects.exists()


def test_an_anonymous_view_is_recorded_against_the_session(client, catalogue):
    mug = catalogue["mug"]

    client.get(reverse("storefront:product", args=[mug.id]))
    client.get(reverse("storefront:product", args=[mug.id]))

    events = list(Event.objects.order_by("id"))
    assert [(e.event_type, e.product_id, e.customer_id) for e in events] == [
        ("view", mug.id, None),
        ("view", mug.id, None),
    ]
    assert {e.session_key for e in events} == {client.session.session_key}
    assert len(client.session.session_key) == 32


def test_a_logged_in_customers_view_is_recorded_against_them(client, catalogue):
    user = UserFactory(username="carol")
    carol = CustomerFactory(user=user, name="Carol")
    client.force_login(user)

    client.get(reverse("storefront:product", args=[catalogue["lamp"].id]))

    event = Event.objects.get()
    assert (event.event_type, event.product, event.customer) == ("view", catalogue["lamp"], carol)
    assert event.metadata == {"source": "storefront"}


def test_a_logged_in_user_without_a_customer_record_is_tracked_by_session(
    client, catalogue, staff_user
):
    client.force_login(staff_user)

    client.get(reverse("storefront:product", args=[catalogue["lamp"].id]))

    event = Event.objects.get()
    assert event.customer is None
    assert event.session_key == client.session.session_key


def test_recording_a_view_needs_a_customer_or_a_session(catalogue):
    with pytest.raises(ValueError, match="customer or a session key"):
        storefront.product_view_record(product=catalogue["mug"], customer=None, session_key="")


def test_price_format_knows_common_currencies():
    assert storefront.price_format(amount=Decimal("1234.5"), currency="GBP") == "£1,234.50"
    assert storefront.price_format(amount=Decimal("2"), currency="CHF") == "2.00 CHF"
