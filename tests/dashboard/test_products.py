"""The staff product pages: list (search, category, status, units sold) and detail with panels."""

import logging
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from shopops.dashboard import views
from shopops.store.models import Product
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _skus(response) -> list[str]:
    return [row["product"].sku for row in response.context["products"]]


def _units(response) -> dict[str, int]:
    return {row["product"].sku: row["units_sold"] for row in response.context["products"]}


@pytest.fixture
def catalogue(shop_orders):
    """Adds Home > Kitchen with a kettle (never sold) and an inactive old lamp."""
    home = CategoryFactory(name="Home", slug="home")
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen", parent=home)
    ProductFactory(sku="KETTLE", name="Steel kettle", category=kitchen, price=Decimal("30"))
    ProductFactory(sku="OLD", name="Old lamp", is_active=False, category=home)
    return {"home": home, "kitchen": kitchen}


def test_staff_see_every_product_with_units_sold(client, staff_user, catalogue):
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:products"))

    html = response.content.decode()
    assert response.status_code == 200
    assert _skus(response) == ["MUG", "LAMP", "OLD", "KETTLE"]  # by name
    # Returned (4 lamps) and cancelled orders are not sales.
    assert _units(response) == {"MUG": 8, "LAMP": 1, "OLD": 0, "KETTLE": 0}
    assert "4 products" in html
    assert '<td class="num" data-units-sold="8">8</td>' in html
    mug = response.context["products"][0]["product"]
    assert f'<a href="/dashboard/products/{mug.pk}/">Blue mug</a>' in html
    assert '<td class="small">Home / Kitchen</td>' in html
    assert '<span class="badge">inactive</span>' in html
    assert 'class="current" aria-current="page">Products</a>' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "lamp"}, ["LAMP", "OLD"]),
        ({"q": "ketTLE"}, ["KETTLE"]),
        ({"status": "inactive"}, ["OLD"]),
        ({"status": "active", "q": "lamp"}, ["LAMP"]),
        ({"sort": "units"}, ["MUG", "LAMP", "OLD", "KETTLE"]),
        ({"status": "bogus", "sort": "bogus", "category": "x"}, ["MUG", "LAMP", "OLD", "KETTLE"]),
    ],
)
def test_the_list_searches_and_filters(client, staff_user, catalogue, query, expected):
    client.force_login(staff_user)

    assert _skus(client.get(reverse("dashboard:products"), query)) == expected


def test_a_category_includes_its_subcategories(client, staff_user, catalogue):
    client.force_login(staff_user)

    home = client.get(reverse("dashboard:products"), {"category": catalogue["home"].pk})
    kitchen = client.get(reverse("dashboard:products"), {"category": catalogue["kitchen"].pk})
    unknown = client.get(reverse("dashboard:products"), {"category": 99_999})

    assert _skus(home) == ["OLD", "KETTLE"]
    assert f'<option value="{catalogue["home"].pk}" selected>Home</option>' in (
        home.content.decode()
    )
    assert _skus(kitchen) == ["KETTLE"]
    assert len(_skus(unknown)) == 4


def test_a_search_by_id(client, staff_user, catalogue):
    client.force_login(staff_user)
    kettle = Product.objects.get(sku="KETTLE")

    assert _skus(client.get(reverse("dashboard:products"), {"q": str(kettle.pk)})) == ["KETTLE"]


def test_the_list_pages_and_keeps_the_filters(client, staff_user, catalogue, monkeypatch):
    monkeypatch.setattr(views, "PRODUCTS_PAGE_SIZE", 2)
    client.force_login(staff_user)

    first = client.get(reverse("dashboard:products"), {"sort": "units"})
    second = client.get(reverse("dashboard:products"), {"sort": "units", "page": 2})

    assert _skus(first) == ["MUG", "LAMP"]
    assert 'href="?sort=units&amp;page=2">Next ›</a>' in first.content.decode()
    assert _skus(second) == ["OLD", "KETTLE"]


def test_no_products_says_how_to_get_some(client, staff_user):
    client.force_login(staff_user)

    html = client.get(reverse("dashboard:products")).content.decode()

    assert "No products yet." in html


def test_the_product_page_shows_details_sales_and_recent_orders(client, staff_user, shop_orders):
    client.force_login(staff_user)
    mug = shop_orders[0].items.get().product

    response = client.get(reverse("dashboard:product", args=[mug.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Blue mug</h1>" in html
    assert "<dt>SKU</dt><dd>MUG</dd>" in html
    assert "<dt>Price</dt><dd>10.00 GBP</dd>" in html
    assert "<dt>Stock</dt><dd>10</dd>" in html
    assert 'data-kpi="units">8</div>' in html
    assert 'data-kpi="orders">2</div>' in html
    assert 'data-kpi="revenue">80.00</div>' in html
    assert 'data-kpi="returned">0</div>' in html
    assert "2024-06-01<br>to 2024-06-03" in html
    assert response.context["sales"]["series"] == [{"period": "2024-06", "units": 8, "orders": 2}]
    assert '<canvas id="product-sales-chart"' in html
    assert [line.order.status for line in response.context["recent"]] == ["shipped", "paid"]
    assert f'href="/admin/store/order/{shop_orders[1].pk}/change/">' in html
    assert f'href="/products/{mug.pk}/">View in shop</a>' in html


def test_a_returned_product_counts_its_returns(client, staff_user, shop_orders):
    client.force_login(staff_user)
    lamp = shop_orders[2].items.get().product

    html = client.get(reverse("dashboard:product", args=[lamp.pk])).content.decode()

    assert 'data-kpi="units">1</div>' in html
    assert 'data-kpi="returned">4</div>' in html
    assert 'data-kpi="revenue">35.25</div>' in html


def test_a_product_without_sales_or_image(client, staff_user):
    product = ProductFactory(name="Quiet kettle", is_active=False, stock=None)
    client.force_login(staff_user)

    html = client.get(reverse("dashboard:product", args=[product.pk])).content.decode()

    assert '<div class="product-image none">No image</div>' in html
    assert "<dt>Stock</dt><dd>not tracked</dd>" in html
    assert "No sales yet." in html
    assert "No orders hold this product yet." in html
    assert "View in shop" not in html  # inactive products are not in the shop


# --- panels contributed by apps ------------------------------------------------------------------


def product_panel(request, product):
    return "Test panel", f"<p class='test-panel'>{product.sku} for {request.user.username}</p>"


def broken_panel(request, product):
    raise RuntimeError("boom")


def test_apps_contribute_panels_by_dotted_path(client, staff_user, monkeypatch, caplog):
    config = apps.get_app_config("dashboard")
    monkeypatch.setattr(
        config,
        "dashboard_product_panels",
        [f"{__name__}.product_panel", f"{__name__}.broken_panel"],
        raising=False,
    )
    product = ProductFactory(sku="PANEL")
    client.force_login(staff_user)

    with caplog.at_level(logging.ERROR, logger="shopops.dashboard.views"):
        response = client.get(reverse("dashboard:product", args=[product.pk]))

    html = response.content.decode()
    titles = [panel["title"] for panel in response.context["panels"]]
    assert titles[:2] == ["Test panel", "Dashboard"]
    # The mining app's panel comes from its own AppConfig; the dashboard imports none by name.
    assert "Frequently bought together" in titles
    assert "<p class='test-panel'>PANEL for merchant</p>" in html
    assert "This block could not be shown; the error is in the server log." in html
    assert f"product panel {__name__}.broken_panel failed for product {product.pk}" in caplog.text


@pytest.mark.parametrize("name", ["dashboard:products", "dashboard:product"])
def test_product_pages_are_for_staff(client, plain_user, shop_orders, name):
    product = shop_orders[0].items.get().product
    url = reverse(name, args=[product.pk] if name == "dashboard:product" else [])

    anonymous = client.get(url)
    client.force_login(plain_user)
    customer = client.get(url)

    assert anonymous.status_code == customer.status_code == 302
    assert anonymous["Location"] == f"/admin/login/?next={url}"


def test_an_unknown_product_is_a_404(client, staff_user):
    client.force_login(staff_user)

    assert client.get(reverse("dashboard:product", args=[99_999])).status_code == 404
