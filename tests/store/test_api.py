"""The shop's REST API as staff use it: catalogue, customers, orders, event ingest, bad input."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from shopops.store import services
from shopops.store.models import Category, Customer, Event, Order, OrderItem, Product, ProductImage
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def garden(db):
    """Garden > Tools, with a spade in Tools, a hose in Garden and a lamp elsewhere."""
    garden = CategoryFactory(name="Garden", slug="garden")
    tools = CategoryFactory(name="Tools", slug="garden-tools", parent=garden)
    home = CategoryFactory(name="Home", slug="home")
    spade = ProductFactory(
        sku="SPADE", name="Spade", price=Decimal("25.000"), category=tools, description="Steel."
    )
    hose = ProductFactory(sku="HOSE", name="Hose", price=Decimal("12.500"), category=garden)
    lamp = ProductFactory(sku="LAMP", name="Lamp", price=Decimal("40.000"), category=home)
    return {
        "garden": garden,
        "tools": tools,
        "home": home,
        "spade": spade,
        "hose": hose,
        "lamp": lamp,
    }


def _skus(response) -> list[str]:
    return [row["sku"] for row in response.json()["results"]]


# --- products -------------------------------------------------------------------------------------


def test_product_detail_nests_category_path_and_image_urls(staff_api, garden):
    # given
    ProductImage.objects.create(product=garden["spade"], image="products/2024/06/spade.jpg")

    # when
    response = staff_api.get(f"/api/products/{garden['spade'].id}/")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["category"] == {
        "id": garden["tools"].id,
        "name": "Tools",
        "slug": "garden-tools",
        "path": "Garden / Tools",
    }
    assert [image["url"] for image in body["images"]] == [
        "http://testserver/media/products/2024/06/spade.jpg"
    ]
    assert body["price"] == "25.000"
    assert body["is_in_stock"] is True


def test_product_list_runs_a_fixed_number_of_queries(api_client, garden):
    for product in Product.objects.all():
        ProductImage.objects.create(product=product, image=f"products/{product.sku}.jpg")
    with CaptureQueriesContext(connection) as few:
        api_client.get("/api/products/")
    ProductFactory.create_batch(10, category=garden["tools"])

    with CaptureQueriesContext(connection) as many:
        response = api_client.get("/api/products/")

    assert response.json()["count"] == 13
    assert len(many) == len(few)


def test_product_filter_by_category_includes_subcategories(api_client, garden):
    response = api_client.get("/api/products/", {"category": garden["garden"].id})

    assert _skus(response) == ["HOSE", "SPADE"]


def test_product_filter_by_leaf_category(api_client, garden):
    response = api_client.get("/api/products/", {"category": garden["tools"].id})

    assert _skus(response) == ["SPADE"]


def test_product_filter_by_price_range_is_inclusive(api_client, garden):
    response = api_client.get("/api/products/", {"min_price": "12.5", "max_price": "25"})

    assert _skus(response) == ["HOSE", "SPADE"]


def test_product_filter_by_is_active_for_staff(staff_api, garden):
    Product.objects.filter(sku="LAMP").update(is_active=False)

    response = staff_api.get("/api/products/", {"is_active": "false"})

    assert _skus(response) == ["LAMP"]


def test_product_search_matches_sku_name_and_description(api_client, garden):
    assert _skus(api_client.get("/api/products/", {"search": "steel"})) == ["SPADE"]
    assert _skus(api_client.get("/api/products/", {"search": "hos"})) == ["HOSE"]
    assert _skus(api_client.get("/api/products/", {"search": "LAMP"})) == ["LAMP"]


def test_product_ordering_by_price(api_client, garden):
    ascending = api_client.get("/api/products/", {"ordering": "price"})
    descending = api_client.get("/api/products/", {"ordering": "-price"})

    assert _skus(ascending) == ["HOSE", "SPADE", "LAMP"]
    assert _skus(descending) == ["LAMP", "SPADE", "HOSE"]


def test_product_default_order_is_by_name(api_client, garden):
    assert _skus(api_client.get("/api/products/")) == ["HOSE", "LAMP", "SPADE"]


def test_product_pagination_with_page_size(api_client, garden):
    first = api_client.get("/api/products/", {"page_size": 2})
    second = api_client.get("/api/products/", {"page_size": 2, "page": 2})

    assert first.json()["count"] == 3
    assert _skus(first) == ["HOSE", "LAMP"]
    assert first.json()["next"] == "http://testserver/api/products/?page=2&page_size=2"
    assert _skus(second) == ["SPADE"]
    assert second.json()["next"] is None


def test_product_page_size_is_capped_at_200(api_client):
    category = CategoryFactory()
    Product.objects.bulk_create(
        Product(sku=f"BULK{n:04d}", name=f"Bulk {n:04d}", price=Decimal("1"), category=category)
        for n in range(205)
    )

    response = api_client.get("/api/products/", {"page_size": 1000})

    assert response.json()["count"] == 205
    assert len(response.json()["results"]) == 200


def test_product_page_past_the_end_is_404(api_client, garden):
    assert api_client.get("/api/products/", {"page": 9}).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price": "cheap"}, "min_price"),
        ({"max_price": "1e"}, "max_price"),
        ({"category": "999999"}, "category"),
        ({"category": "garden"}, "category"),
    ],
)
def test_product_bad_filter_is_400(api_client, garden, params, field):
    response = api_client.get("/api/products/", params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_staff_creates_product(staff_api, garden):
    response = staff_api.post(
        "/api/products/",
        {
            "sku": "RAKE",
            "name": "Rake",
            "price": "14.990",
            "stock": 3,
            "category": garden["tools"].id,
            "attributes": {"colour": "green"},
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["sku"] == "RAKE"
    assert body["price"] == "14.990"
    assert body["currency"] == "GBP"
    assert body["category"]["path"] == "Garden / Tools"
    assert body["images"] == []
    product = Product.objects.get(sku="RAKE")
    assert product.price == Decimal("14.99")
    assert product.attributes == {"colour": "green"}


def test_staff_updates_product_price(staff_api, garden):
    response = staff_api.patch(
        f"/api/products/{garden['spade'].id}/", {"price": "30.000"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["price"] == "30.000"
    assert Product.objects.get(sku="SPADE").price == Decimal("30")


def test_partial_update_keeps_fields_it_does_not_name(staff_api):
    product = ProductFactory(currency="EUR", is_active=False, attributes={"size": "L"})

    response = staff_api.patch(f"/api/products/{product.id}/", {"price": "2.5"}, format="json")

    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.price, product.currency, product.is_active, product.attributes) == (
        Decimal("2.5"),
        "EUR",
        False,
        {"size": "L"},
    )


def test_staff_replaces_product(staff_api, garden):
    response = staff_api.put(
        f"/api/products/{garden['spade'].id}/",
        {"sku": "SPADE", "name": "Big spade", "price": "31.000", "category": None},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Big spade"
    assert response.json()["category"] is None


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"sku": "X1", "name": "X", "price": "-1"},
            {"price": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"sku": "X1", "name": "X", "price": "abc"},
            {"price": ["A valid number is required."]},
        ),
        (
            {"sku": "SPADE", "name": "X", "price": "1"},
            {"sku": ["product with this sku already exists."]},
        ),
        (
            {"sku": "X1", "name": "X", "price": "1", "currency": "pounds"},
            {
                "currency": [
                    "A currency is three capital letters (ISO 4217).",
                    "Ensure this field has no more than 3 characters.",
                ]
            },
        ),
        (
            {"sku": "X1", "name": "X", "price": "1", "currency": "gbp"},
            {"currency": ["A currency is three capital letters (ISO 4217)."]},
        ),
        (
            {"sku": "X1", "name": "X", "price": "1", "attributes": [1, 2]},
            {"attributes": ["Attributes must be a JSON object."]},
        ),
        (
            {"sku": "X1", "name": "X", "price": "1", "stock": -2},
            {"stock": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"sku": "X1", "name": "X", "price": "1", "category": 999999},
            {"category": ['Invalid pk "999999" - object does not exist.']},
        ),
        (
            {"name": "X"},
            {"sku": ["This field is required."], "price": ["This field is required."]},
        ),
    ],
)
def test_product_create_with_bad_fields_is_400(staff_api, garden, payload, errors):
    response = staff_api.post("/api/products/", payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert Product.objects.count() == 3


def test_malformed_json_is_400(staff_api):
    response = staff_api.post(
        "/api/products/", data='{"sku": "X", ', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_product_that_was_ordered_cannot_be_deleted(staff_api, garden):
    OrderItemFactory(product=garden["spade"])

    response = staff_api.delete(f"/api/products/{garden['spade'].id}/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This product cannot be deleted: order items still refer to it."
    }
    assert Product.objects.filter(sku="SPADE").exists()


def test_staff_deletes_unordered_product(staff_api, garden):
    response = staff_api.delete(f"/api/products/{garden['lamp'].id}/")

    assert response.status_code == 204
    assert not Product.objects.filter(sku="LAMP").exists()


# --- categories -----------------------------------------------------------------------------------


def test_category_list_has_parent_and_path(api_client, garden):
    response = api_client.get("/api/categories/")

    assert response.status_code == 200
    assert [(row["name"], row["parent"], row["path"]) for row in response.json()["results"]] == [
        ("Garden", None, "Garden"),
        ("Home", None, "Home"),
        ("Tools", garden["garden"].id, "Garden / Tools"),
    ]


def test_category_filters_roots_and_children(api_client, garden):
    roots = api_client.get("/api/categories/", {"is_root": "true"})
    children = api_client.get("/api/categories/", {"parent": garden["garden"].id})

    assert [row["slug"] for row in roots.json()["results"]] == ["garden", "home"]
    assert [row["slug"] for row in children.json()["results"]] == ["garden-tools"]


def test_staff_creates_subcategory(staff_api, garden):
    response = staff_api.post(
        "/api/categories/",
        {"name": "Spades", "slug": "spades", "parent": garden["tools"].id},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["path"] == "Garden / Tools / Spades"


def test_category_name_is_unique_within_its_parent(staff_api, garden):
    response = staff_api.post(
        "/api/categories/",
        {"name": "Tools", "slug": "tools-2", "parent": garden["garden"].id},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["The fields parent, name must make a unique set."]
    }


def test_category_cannot_move_under_its_own_subcategory(staff_api, garden):
    response = staff_api.patch(
        f"/api/categories/{garden['garden'].id}/", {"parent": garden["tools"].id}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "parent": ["A category cannot move under itself or one of its subcategories."]
    }
    assert Category.objects.get(slug="garden").parent is None


def test_category_with_subcategories_cannot_be_deleted(staff_api, garden):
    response = staff_api.delete(f"/api/categories/{garden['garden'].id}/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This category cannot be deleted: categories still refer to it."
    }


def test_deleting_a_leaf_category_keeps_its_products(staff_api, garden):
    response = staff_api.delete(f"/api/categories/{garden['home'].id}/")

    assert response.status_code == 204
    assert Product.objects.get(sku="LAMP").category is None


# --- customers ------------------------------------------------------------------------------------


def test_staff_creates_customer_with_blank_external_id_as_null(staff_api):
    first = staff_api.post(
        "/api/customers/", {"name": "Ann", "external_id": "", "email": "ann@example.com"}
    )
    second = staff_api.post("/api/customers/", {"name": "Ben", "external_id": ""})

    assert first.status_code == 201
    assert second.status_code == 201
    assert first.json()["external_id"] is None
    assert first.json()["email"] == "ann@example.com"
    assert Customer.objects.filter(external_id__isnull=True).count() == 2


def test_customer_login_can_be_linked_once(staff_api, customer_user):
    user, _alice = customer_user

    response = staff_api.post("/api/customers/", {"name": "Copy", "user": user.id}, format="json")

    assert response.status_code == 400
    assert response.json() == {"user": ["This user is already linked to another customer."]}


def test_customer_bad_email_is_400(staff_api):
    response = staff_api.post("/api/customers/", {"name": "Ann", "email": "not-an-email"})

    assert response.status_code == 400
    assert response.json() == {"email": ["Enter a valid email address."]}


def test_customer_search_and_country_filter(staff_api):
    CustomerFactory(name="Ann Smith", country="France")
    CustomerFactory(name="Ann Jones", country="Germany")
    CustomerFactory(name="Bob Smith", country="France")

    response = staff_api.get("/api/customers/", {"search": "ann", "country": "france"})

    assert [row["name"] for row in response.json()["results"]] == ["Ann Smith"]


def test_customer_with_orders_cannot_be_deleted(staff_api):
    order = OrderFactory()

    response = staff_api.delete(f"/api/customers/{order.customer_id}/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This customer cannot be deleted: orders still refer to it."
    }


def test_unique_clash_at_write_time_is_409(staff_api, monkeypatch):
    # given: validation passes, then a concurrent request takes the value first
    def taken(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(services, "customer_create", taken)

    # when
    response = staff_api.post("/api/customers/", {"name": "Ann", "external_id": "C-1"})

    # then
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This change conflicts with data already stored; reload and retry."
    }


def test_staff_updates_customer(staff_api):
    customer = CustomerFactory(name="Old")

    response = staff_api.patch(f"/api/customers/{customer.id}/", {"name": "New"})

    assert response.status_code == 200
    assert response.json()["name"] == "New"


# --- orders ---------------------------------------------------------------------------------------


def test_order_create_computes_totals_on_the_server(staff_api, garden):
    # given
    customer = CustomerFactory(email="ann@example.com", country="France")

    # when: two lines for the spade are merged; client-sent prices and totals are ignored
    response = staff_api.post(
        "/api/orders/",
        {
            "customer": customer.id,
            "placed_at": "2024-06-01T10:00:00Z",
            "total": "0.01",
            "items": [
                {"product": garden["spade"].id, "quantity": 2, "unit_price": "0.01"},
                {"product": garden["hose"].id, "quantity": 1},
                {"product": garden["spade"].id, "quantity": 1},
            ],
        },
        format="json",
    )

    # then
    assert response.status_code == 201
    body = response.json()
    assert body["total"] == "87.50"
    assert body["item_count"] == 2
    assert body["status"] == "pending"
    assert body["currency"] == "GBP"
    assert body["email"] == "ann@example.com"
    assert body["country"] == "France"
    assert body["placed_at"] == "2024-06-01T10:00:00Z"
    assert body["external_number"].startswith("API")
    assert [
        (item["product"]["sku"], item["quantity"], item["unit_price"], item["line_total"])
        for item in body["items"]
    ] == [("SPADE", 3, "25.000", "75.000"), ("HOSE", 1, "12.500", "12.500")]
    order = Order.objects.get(id=body["id"])
    assert order.total == Decimal("87.50")
    assert OrderItem.objects.filter(order=order).count() == 2


def test_order_total_rounds_half_up_to_the_cent(staff_api):
    product = ProductFactory(price=Decimal("0.335"))

    response = staff_api.post(
        "/api/orders/", {"items": [{"product": product.id, "quantity": 1}]}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["total"] == "0.34"
    assert response.json()["customer"] is None


def test_order_create_keeps_a_given_number_and_status(staff_api, garden):
    response = staff_api.post(
        "/api/orders/",
        {
            "external_number": "SHOP-1",
            "status": "paid",
            "items": [{"product": garden["lamp"].id, "quantity": 1}],
        },
        format="json",
    )

    assert response.status_code == 201
    assert (response.json()["external_number"], response.json()["status"]) == ("SHOP-1", "paid")


@pytest.mark.parametrize(
    ("items", "errors"),
    [
        (
            [{"product": "SPADE_ID", "quantity": 1}, {"product": 999999, "quantity": 1}],
            {"items": {"1": {"product": ["Unknown product 999999."]}}},
        ),
        (
            [{"product": "SPADE_ID", "quantity": 0}],
            {"items": {"0": {"quantity": ["Ensure this value is greater than or equal to 1."]}}},
        ),
        (
            [{"product": "SPADE_ID", "quantity": -3}],
            {"items": {"0": {"quantity": ["Ensure this value is greater than or equal to 1."]}}},
        ),
        (
            [{"product": "SPADE_ID", "quantity": "two"}],
            {"items": {"0": {"quantity": ["A valid integer is required."]}}},
        ),
        (
            [{"quantity": 1}],
            {"items": {"0": {"product": ["This field is required."]}}},
        ),
        ([], {"items": ["This list may not be empty."]}),
        ("SPADE", {"items": ['Expected a list of items but got type "str".']}),
    ],
)
def test_order_create_with_bad_items_is_400(staff_api, garden, items, errors):
    items = (
        [
            {**item, "product": garden["spade"].id} if item.get("product") == "SPADE_ID" else item
            for item in items
        ]
        if isinstance(items, list)
        else items
    )

    response = staff_api.post("/api/orders/", {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("extra", "errors"),
    [
        ({"customer": 999999}, {"customer": ['Invalid pk "999999" - object does not exist.']}),
        ({"customer": "ann"}, {"customer": ["Incorrect type. Expected pk value, received str."]}),
        ({"status": "lost"}, {"status": ['"lost" is not a valid choice.']}),
        (
            {"placed_at": "yesterday"},
            {
                "placed_at": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
        ({"email": "nope"}, {"email": ["Enter a valid email address."]}),
    ],
)
def test_order_create_with_bad_fields_is_400(staff_api, garden, extra, errors):
    payload = {"items": [{"product": garden["spade"].id, "quantity": 1}], **extra}

    response = staff_api.post("/api/orders/", payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors


def test_order_without_items_field_is_400(staff_api):
    response = staff_api.post("/api/orders/", {"customer": None}, format="json")

    assert response.status_code == 400
    assert response.json() == {"items": ["This field is required."]}


def test_order_number_must_be_new(staff_api, garden):
    OrderFactory(external_number="SHOP-1")

    response = staff_api.post(
        "/api/orders/",
        {"external_number": "SHOP-1", "items": [{"product": garden["spade"].id, "quantity": 1}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"external_number": ["An order with this number already exists."]}


def test_order_items_must_share_one_currency(staff_api, garden):
    euro = ProductFactory(currency="EUR")

    response = staff_api.post(
        "/api/orders/",
        {
            "items": [
                {"product": garden["spade"].id, "quantity": 1},
                {"product": euro.id, "quantity": 1},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"items": ["All items must share one currency; got EUR, GBP."]}


def test_order_with_too_many_items_is_400(staff_api, garden):
    items = [{"product": garden["spade"].id, "quantity": 1}] * 501

    response = staff_api.post("/api/orders/", {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json() == {"items": ["Ensure this field has no more than 500 elements."]}


def test_order_status_changes_but_lines_do_not(staff_api, garden):
    order = OrderFactory(total=Decimal("25.00"), status=Order.Status.PENDING)
    OrderItemFactory(order=order, product=garden["spade"])

    response = staff_api.patch(
        f"/api/orders/{order.id}/",
        {"status": "shipped", "total": "1.00", "items": []},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "shipped"
    assert response.json()["total"] == "25.00"
    assert len(response.json()["items"]) == 1


def test_order_put_is_not_allowed(staff_api):
    order = OrderFactory()

    response = staff_api.put(f"/api/orders/{order.id}/", {"status": "paid"}, format="json")

    assert response.status_code == 405


def test_staff_deletes_order_with_its_lines(staff_api):
    item = OrderItemFactory()

    response = staff_api.delete(f"/api/orders/{item.order_id}/")

    assert response.status_code == 204
    assert not OrderItem.objects.exists()


@pytest.fixture
def orders(db):
    ann, ben = CustomerFactory(name="Ann"), CustomerFactory(name="Ben")
    return {
        "may": OrderFactory(
            external_number="MAY",
            customer=ann,
            status=Order.Status.PAID,
            placed_at=datetime(2024, 5, 31, 23, 0, tzinfo=UTC),
            total=Decimal("10"),
        ),
        "june": OrderFactory(
            external_number="JUNE",
            customer=ann,
            status=Order.Status.SHIPPED,
            placed_at=datetime(2024, 6, 1, 0, 0, tzinfo=UTC),
            total=Decimal("30"),
        ),
        "july": OrderFactory(
            external_number="JULY",
            customer=ben,
            status=Order.Status.RETURNED,
            placed_at=datetime(2024, 7, 1, 9, 0, tzinfo=UTC),
            total=Decimal("20"),
        ),
        "ann": ann,
        "ben": ben,
    }


def _numbers(response) -> list[str]:
    return [row["external_number"] for row in response.json()["results"]]


def test_orders_newest_first_by_default(staff_api, orders):
    assert _numbers(staff_api.get("/api/orders/")) == ["JULY", "JUNE", "MAY"]


def test_orders_filter_by_one_or_more_statuses(staff_api, orders):
    one = staff_api.get("/api/orders/", {"status": "paid"})
    two = staff_api.get("/api/orders/?status=paid&status=returned")

    assert _numbers(one) == ["MAY"]
    assert _numbers(two) == ["JULY", "MAY"]


def test_orders_filter_by_customer(staff_api, orders):
    response = staff_api.get("/api/orders/", {"customer": orders["ann"].id})

    assert _numbers(response) == ["JUNE", "MAY"]


def test_orders_filter_by_placed_range(staff_api, orders):
    june = staff_api.get(
        "/api/orders/", {"placed_after": "2024-06-01", "placed_before": "2024-07-01"}
    )
    from_time = staff_api.get("/api/orders/", {"placed_after": "2024-07-01T09:00:00Z"})

    assert _numbers(june) == ["JUNE"]
    assert _numbers(from_time) == ["JULY"]


def test_orders_ordering_and_search(staff_api, orders):
    assert _numbers(staff_api.get("/api/orders/", {"ordering": "total"})) == [
        "MAY",
        "JULY",
        "JUNE",
    ]
    assert _numbers(staff_api.get("/api/orders/", {"search": "jun"})) == ["JUNE"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"placed_after": "last tuesday"}, "placed_after"),
        ({"placed_before": "2024-13-01"}, "placed_before"),
        ({"status": "lost"}, "status"),
        ({"customer": "ann"}, "customer"),
    ],
)
def test_orders_bad_filter_is_400(staff_api, orders, params, field):
    response = staff_api.get("/api/orders/", params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_order_list_runs_a_fixed_number_of_queries(staff_api, orders):
    OrderItemFactory(order=orders["may"])
    with CaptureQueriesContext(connection) as few:
        staff_api.get("/api/orders/")
    for order in (orders["june"], orders["july"]):
        OrderItemFactory.create_batch(3, order=order)

    with CaptureQueriesContext(connection) as many:
        response = staff_api.get("/api/orders/")

    assert sum(len(row["items"]) for row in response.json()["results"]) == 7
    assert len(many) == len(few)


# --- event batch ingest ---------------------------------------------------------------------------


def test_anonymous_events_with_a_session_are_written(api_client, garden):
    response = api_client.post(
        "/api/events/batch/",
        {
            "events": [
                {"type": "view", "product": garden["spade"].id, "session_key": "s1"},
                {"type": "cart", "product": "HOSE", "session_key": "s1", "metadata": {"n": 1}},
                {"type": "search", "query": "spade", "session_key": "s1"},
                {
                    "type": "click",
                    "session_key": "s1",
                    "occurred_at": "2024-06-01T12:00:00+01:00",
                },
            ]
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json() == {"created": 4}
    rows = list(
        Event.objects.order_by("id").values_list(
            "event_type", "product__sku", "customer", "session_key", "query", "metadata"
        )
    )
    assert rows == [
        ("view", "SPADE", None, "s1", "", {}),
        ("cart", "HOSE", None, "s1", "", {"n": 1}),
        ("search", None, None, "s1", "spade", {}),
        ("click", None, None, "s1", "", {}),
    ]
    assert Event.objects.get(event_type="click").occurred_at == datetime(
        2024, 6, 1, 11, 0, tzinfo=UTC
    )


def test_event_time_defaults_to_now(api_client, garden):
    before = datetime.now(tz=UTC)

    api_client.post(
        "/api/events/batch/",
        {"events": [{"type": "view", "product": "LAMP", "session_key": "s"}]},
        format="json",
    )

    assert before <= Event.objects.get().occurred_at <= datetime.now(tz=UTC)


def test_event_batch_is_all_or_nothing_with_errors_by_index(api_client, garden):
    response = api_client.post(
        "/api/events/batch/",
        {
            "events": [
                {"type": "view", "product": "SPADE", "session_key": "s1"},
                {"type": "teleport", "session_key": "s1"},
                {"type": "view", "product": "SPADE", "session_key": "s1"},
                {"type": "view", "session_key": "s1", "occurred_at": "soon"},
                {"type": "search", "session_key": "s1", "metadata": [1]},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "events": {
            "1": {"type": ['"teleport" is not a valid choice.']},
            "3": {
                "occurred_at": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
            "4": {"metadata": ["Metadata must be a JSON object."]},
        }
    }
    assert Event.objects.count() == 0


def test_event_batch_reports_unknown_products_and_missing_identity(api_client, garden):
    Product.objects.filter(sku="LAMP").update(is_active=False)

    response = api_client.post(
        "/api/events/batch/",
        {
            "events": [
                {"type": "view", "product": "NOPE", "session_key": "s1"},
                {"type": "view", "product": 999999, "session_key": "s1"},
                {"type": "view", "product": "LAMP", "session_key": "s1"},
                {"type": "view", "product": "SPADE"},
                {"type": "view", "product": "SPADE", "session_key": "s1"},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "events": {
            "0": {"product": ["Unknown product 'NOPE'."]},
            "1": {"product": ["Unknown product 999999."]},
            "2": {"product": ["Unknown product 'LAMP'."]},
            "3": {"session_key": ["Give a session_key (or, for staff, a customer)."]},
        }
    }
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("event", "errors"),
    [
        ({"type": "view", "session_key": "s"}, {"product": ["A view event needs a product."]}),
        ({"type": "search", "session_key": "s"}, {"query": ["A search event needs its query."]}),
        (
            {"type": "view", "product": True, "session_key": "s"},
            {"product": ["Give a product id (a number) or a SKU (a string)."]},
        ),
        (
            {"type": "view", "product": 1.5, "session_key": "s"},
            {"product": ["Give a product id (a number) or a SKU (a string)."]},
        ),
        (
            {"type": "click", "session_key": "s" * 65},
            {"session_key": ["Ensure this field has no more than 64 characters."]},
        ),
        (
            {"type": "click", "session_key": "s", "metadata": {"blob": "x" * 5000}},
            {"metadata": ["Metadata may hold at most 4096 bytes of JSON."]},
        ),
        (
            {"type": "click", "session_key": "s", "customer": "me"},
            {"customer": ["A valid integer is required."]},
        ),
        ("view", {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
    ],
)
def test_event_with_bad_shape_is_400(api_client, event, errors):
    response = api_client.post("/api/events/batch/", {"events": [event]}, format="json")

    assert response.status_code == 400
    assert response.json() == {"events": {"0": errors}}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"events": []}, {"events": ["This list may not be empty."]}),
        ({}, {"events": ["This field is required."]}),
        (
            {"events": {"type": "view"}},
            {"events": ['Expected a list of items but got type "dict".']},
        ),
        (
            [{"type": "view"}],
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        ),
    ],
)
def test_event_batch_with_bad_envelope_is_400(api_client, body, errors):
    response = api_client.post("/api/events/batch/", body, format="json")

    assert response.status_code == 400
    assert response.json() == errors


def test_event_batch_of_more_than_1000_is_400(api_client):
    events = [{"type": "click", "session_key": "s"}] * 1001

    response = api_client.post("/api/events/batch/", {"events": events}, format="json")

    assert response.status_code == 400
    assert response.json() == {"events": ["Ensure this field has no more than 1000 elements."]}
    assert Event.objects.count() == 0


def test_event_batch_of_1000_is_written_in_a_few_queries(api_client, garden):
    events = [
        {"type": "view", "product": ("SPADE", garden["hose"].id)[n % 2], "session_key": f"s{n}"}
        for n in range(1000)
    ]

    with CaptureQueriesContext(connection) as queries:
        response = api_client.post("/api/events/batch/", {"events": events}, format="json")

    assert response.status_code == 201
    assert response.json() == {"created": 1000}
    assert Event.objects.count() == 1000
    assert Event.objects.filter(product=garden["spade"]).count() == 500
    statements = [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]
    # two look-ups (ids, skus), then inserts in as few batches as the database allows
    assert statements[:2] == ["SELECT", "SELECT"]
    assert set(statements[2:]) == {"SAVEPOINT", "INSERT", "RELEASE"}
    assert statements.count("INSERT") <= 8


def test_event_batch_that_is_not_json_is_400(api_client):
    response = api_client.post("/api/events/batch/", data="[{oops", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


# --- input the database cannot take is refused, never a 500 ---------------------------------------

HUGE_ID = 10**30


@pytest.mark.parametrize(
    ("url", "errors"),
    [
        (
            f"/api/orders/?customer={HUGE_ID}",
            {"customer": ["Ensure this value is less than or equal to 9223372036854775807."]},
        ),
        ("/api/orders/?customer=1.5", {"customer": ["Enter a whole number."]}),
        (
            f"/api/categories/?parent={HUGE_ID}",
            {"parent": ["Ensure this value is less than or equal to 9223372036854775807."]},
        ),
        (
            f"/api/products/?category={HUGE_ID}",
            {
                "category": [
                    "Select a valid choice. That choice is not one of the available choices."
                ]
            },
        ),
    ],
)
def test_out_of_range_ids_in_filters_are_400(staff_api, url, errors):
    response = staff_api.get(url)

    assert response.status_code == 400
    assert response.json() == errors


def test_out_of_range_id_in_the_path_is_404(staff_api):
    assert staff_api.get(f"/api/orders/{HUGE_ID}/").status_code == 404
    assert staff_api.get(f"/api/products/{HUGE_ID}/").status_code == 404


def test_out_of_range_ids_in_bodies_are_400(staff_api, garden):
    order = staff_api.post(
        "/api/orders/", {"items": [{"product": HUGE_ID, "quantity": 1}]}, format="json"
    )
    events = staff_api.post(
        "/api/events/batch/",
        {
            "events": [
                {"type": "view", "product": HUGE_ID, "session_key": "s"},
                {"type": "view", "product": "SPADE", "customer": HUGE_ID},
            ]
        },
        format="json",
    )

    assert order.status_code == 400
    assert order.json() == {
        "items": {
            "0": {"product": ["Ensure this value is less than or equal to 9223372036854775807."]}
        }
    }
    assert events.status_code == 400
    assert events.json() == {
        "events": {
            "0": {"product": ["Give a product id (a number) or a SKU (a string)."]},
            "1": {"customer": ["Ensure this value is less than or equal to 9223372036854775807."]},
        }
    }


def test_null_characters_in_json_fields_are_400(staff_api):
    product = staff_api.post(
        "/api/products/",
        {"sku": "NUL", "name": "Nul", "price": "1", "attributes": {"a": ["ok", "x\x00"]}},
        format="json",
    )
    event = staff_api.post(
        "/api/events/batch/",
        {"events": [{"type": "click", "session_key": "s", "metadata": {"k\x00": 1}}]},
        format="json",
    )

    assert product.status_code == 400
    assert product.json() == {"attributes": ["Attributes may not contain null characters."]}
    assert event.json() == {
        "events": {"0": {"metadata": ["Metadata may not contain null characters."]}}
    }


def test_absurdly_nested_json_is_400(api_client):
    body = "[" * 100_000 + "]" * 100_000

    response = api_client.post("/api/events/batch/", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - the document is nested too deeply."}
