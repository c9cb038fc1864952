"""Who may do what in the shop's REST API, role by role, including guessed ids."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from shopops.store.models import Category, Customer, Event, Order, Product
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _staff_with(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def shop(customer_user):
    """Alice (logged in) and Bob each have an order; one product is active, one is not."""
    alice_user, alice = customer_user
    bob_user = UserFactory(username="bob")
    bob = CustomerFactory(user=bob_user, name="Bob", external_id="BOB")
    category = CategoryFactory(name="Kitchen", slug="kitchen")
    kettle = ProductFactory(sku="KETTLE", name="Kettle", category=category)
    retired = ProductFactory(sku="RETIRED", name="Retired", category=category, is_active=False)
    alice_order = OrderFactory(external_number="A-1", customer=alice)
    OrderItemFactory(order=alice_order, product=kettle)
    bob_order = OrderFactory(external_number="B-1", customer=bob)
    OrderItemFactory(order=bob_order, product=retired)
    return {
        "alice_user": alice_user,
        "alice": alice,
        "bob_user": bob_user,
        "bob": bob,
        "category": category,
        "kettle": kettle,
        "retired": retired,
        "alice_order": alice_order,
        "bob_order": bob_order,
    }


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def anonymous():
    return _client()


@pytest.fixture
def alice(shop):
    return _client(shop["alice_user"])


@pytest.fixture
def staff_without_permissions(db):
    return _client(_staff_with())


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# --- anonymous visitors ---------------------------------------------------------------------------


def test_anonymous_reads_active_products_only(anonymous, shop):
    listing = anonymous.get("/api/products/")
    active = anonymous.get(f"/api/products/{shop['kettle'].id}/")
    inactive = anonymous.get(f"/api/products/{shop['retired'].id}/")

    assert _ids(listing) == [shop["kettle"].id]
    assert active.status_code == 200
    assert inactive.status_code == 404


def test_anonymous_cannot_see_inactive_products_by_filtering(anonymous, shop):
    response = anonymous.get("/api/products/", {"is_active": "false"})

    assert _ids(response) == []


def test_anonymous_reads_categories(anonymous, shop):
    listing = anonymous.get("/api/categories/")
    detail = anonymous.get(f"/api/categories/{shop['category'].id}/")

    assert _ids(listing) == [shop["category"].id]
    assert detail.json()["path"] == "Kitchen"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/customers/"),
        ("get", "/api/customers/{alice}/"),
        ("post", "/api/customers/"),
        ("get", "/api/orders/"),
        ("get", "/api/orders/{alice_order}/"),
        ("post", "/api/orders/"),
        ("delete", "/api/orders/{alice_order}/"),
        ("post", "/api/products/"),
        ("patch", "/api/products/{kettle}/"),
        ("delete", "/api/products/{kettle}/"),
        ("post", "/api/categories/"),
        ("delete", "/api/categories/{category}/"),
    ],
)
def test_anonymous_is_401_everywhere_else(anonymous, shop, method, url):
    url = url.format(**{key: getattr(value, "id", None) for key, value in shop.items()})

    response = getattr(anonymous, method)(url, {}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_anonymous_cannot_post_events_as_a_customer(anonymous, shop):
    response = anonymous.post(
        "/api/events/batch/",
        {"events": [{"type": "view", "product": "KETTLE", "customer": shop["alice"].id}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "events": {
            "0": {"customer": ["Anonymous visitors identify with a session_key, not a customer."]}
        }
    }
    assert Event.objects.count() == 0


# --- a logged-in customer -------------------------------------------------------------------------


def test_customer_lists_only_their_own_record(alice, shop):
    response = alice.get("/api/customers/")

    assert _ids(response) == [shop["alice"].id]


def test_customer_reads_their_own_record(alice, shop):
    response = alice.get(f"/api/customers/{shop['alice'].id}/")

    assert response.status_code == 200
    assert response.json()["external_id"] == "ALICE"


def test_customer_guessing_another_customer_id_gets_404(alice, shop):
    assert alice.get(f"/api/customers/{shop['bob'].id}/").status_code == 404
    assert alice.get("/api/customers/999999/").status_code == 404


def test_customer_lists_only_their_own_orders(alice, shop):
    response = alice.get("/api/orders/")

    assert _ids(response) == [shop["alice_order"].id]
    assert [item["product"]["sku"] for item in response.json()["results"][0]["items"]] == ["KETTLE"]


def test_customer_reads_their_own_order(alice, shop):
    response = alice.get(f"/api/orders/{shop['alice_order'].id}/")

    assert response.status_code == 200
    assert response.json()["external_number"] == "A-1"


def test_customer_guessing_another_order_id_gets_404(alice, shop):
    response = alice.get(f"/api/orders/{shop['bob_order'].id}/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No Order matches the given query."}


def test_customer_filtering_by_another_customer_sees_nothing(alice, shop):
    response = alice.get("/api/orders/", {"customer": shop["bob"].id})

    assert response.status_code == 200
    assert _ids(response) == []


def test_customer_searching_another_order_number_sees_nothing(alice, shop):
    assert _ids(alice.get("/api/orders/", {"search": "B-1"})) == []


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/orders/", {"items": [{"product": 1, "quantity": 1}]}),
        ("patch", "/api/orders/{alice_order}/", {"status": "cancelled"}),
        ("delete", "/api/orders/{alice_order}/", None),
        ("patch", "/api/orders/{bob_order}/", {"status": "cancelled"}),
        ("patch", "/api/customers/{alice}/", {"name": "Mallory"}),
        ("delete", "/api/customers/{alice}/", None),
        ("post", "/api/customers/", {"name": "Mallory"}),
        ("post", "/api/products/", {"sku": "X", "name": "X", "price": "1"}),
        ("patch", "/api/products/{kettle}/", {"price": "0.01"}),
        ("delete", "/api/products/{kettle}/", None),
        ("post", "/api/categories/", {"name": "X", "slug": "x"}),
        ("patch", "/api/categories/{category}/", {"name": "X"}),
        ("delete", "/api/categories/{category}/", None),
    ],
)
def test_customer_cannot_write(alice, shop, method, url, body):
    url = url.format(**{key: getattr(value, "id", None) for key, value in shop.items()})

    response = getattr(alice, method)(url, body, format="json")

    assert response.status_code == 403
    assert Order.objects.filter(status=Order.Status.CANCELLED).count() == 0
    assert Customer.objects.filter(name="Mallory").count() == 0
    assert Product.objects.get(sku="KETTLE").price == Decimal("9.99")
    assert Category.objects.filter(slug="kitchen").exists()


def test_customer_sees_active_products_only(alice, shop):
    assert _ids(alice.get("/api/products/")) == [shop["kettle"].id]
    assert alice.get(f"/api/products/{shop['retired'].id}/").status_code == 404


def test_customer_events_are_attributed_to_them(alice, shop):
    response = alice.post(
        "/api/events/batch/",
        {
            "events": [
                {"type": "view", "product": "KETTLE"},
                {"type": "cart", "product": "KETTLE", "customer": shop["alice"].id},
            ]
        },
        format="json",
    )

    assert response.status_code == 201
    assert list(Event.objects.values_list("customer", flat=True)) == [shop["alice"].id] * 2


def test_customer_cannot_post_events_for_another_customer(alice, shop):
    response = alice.post(
        "/api/events/batch/",
        {
            "events": [
                {"type": "view", "product": "KETTLE"},
                {"type": "view", "product": "KETTLE", "customer": shop["bob"].id},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "events": {"1": {"customer": ["You can only post events for your own customer record."]}}
    }
    assert Event.objects.count() == 0


def test_customer_cannot_post_events_about_inactive_products(alice, shop):
    response = alice.post(
        "/api/events/batch/", {"events": [{"type": "view", "product": "RETIRED"}]}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"events": {"0": {"product": ["Unknown product 'RETIRED'."]}}}


# --- a logged-in user with no customer record -----------------------------------------------------


def test_user_without_customer_record_is_403_on_customers_and_orders(db, shop):
    client = _client(UserFactory(username="nobody"))

    assert client.get("/api/customers/").status_code == 403
    assert client.get("/api/orders/").status_code == 403
    assert client.get(f"/api/orders/{shop['alice_order'].id}/").status_code == 403
    assert client.get("/api/products/").status_code == 200


# --- staff, by model permission -------------------------------------------------------------------


def test_staff_without_permissions_reads_only_the_public_catalogue(staff_without_permissions, shop):
    client = staff_without_permissions

    assert _ids(client.get("/api/products/")) == [shop["kettle"].id]
    assert client.get(f"/api/products/{shop['retired'].id}/").status_code == 404
    assert client.get("/api/categories/").status_code == 200
    assert client.get("/api/customers/").status_code == 403
    assert client.get("/api/orders/").status_code == 403
    assert client.get(f"/api/orders/{shop['alice_order'].id}/").status_code == 403


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/products/", {"sku": "X", "name": "X", "price": "1"}),
        ("patch", "/api/products/{kettle}/", {"price": "1"}),
        ("delete", "/api/products/{kettle}/", None),
        ("post", "/api/categories/", {"name": "X", "slug": "x"}),
        ("post", "/api/customers/", {"name": "X"}),
        ("post", "/api/orders/", {"items": [{"product": 1, "quantity": 1}]}),
        ("patch", "/api/orders/{bob_order}/", {"status": "paid"}),
        ("delete", "/api/orders/{bob_order}/", None),
    ],
)
def test_staff_without_permissions_cannot_write(staff_without_permissions, shop, method, url, body):
    url = url.format(**{key: getattr(value, "id", None) for key, value in shop.items()})

    response = getattr(staff_without_permissions, method)(url, body, format="json")

    assert response.status_code == 403


def test_staff_with_view_product_sees_inactive_products(shop):
    client = _client(_staff_with("view_product"))

    assert _ids(client.get("/api/products/")) == [shop["kettle"].id, shop["retired"].id]
    assert client.get(f"/api/products/{shop['retired'].id}/").status_code == 200


def test_staff_with_view_order_reads_every_order_but_cannot_change_them(shop):
    client = _client(_staff_with("view_order"))

    assert sorted(_ids(client.get("/api/orders/"))) == sorted(
        [shop["alice_order"].id, shop["bob_order"].id]
    )
    assert client.get(f"/api/orders/{shop['bob_order'].id}/").status_code == 200
    assert client.patch(f"/api/orders/{shop['bob_order'].id}/", {"status": "paid"}).status_code == (
        403
    )
    assert client.get("/api/customers/").status_code == 403


def test_staff_with_add_order_creates_orders(shop):
    client = _client(_staff_with("add_order", "view_order"))

    response = client.post(
        "/api/orders/",
        {"customer": shop["bob"].id, "items": [{"product": shop["kettle"].id, "quantity": 2}]},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["total"] == "19.98"


def test_staff_with_change_product_but_not_add_cannot_create(shop):
    client = _client(_staff_with("change_product"))

    created = client.post("/api/products/", {"sku": "X", "name": "X", "price": "1"})
    changed = client.patch(f"/api/products/{shop['kettle'].id}/", {"price": "5.00"})

    assert created.status_code == 403
    assert changed.status_code == 200
    assert Product.objects.get(sku="KETTLE").price == Decimal("5")


def test_staff_with_customer_permissions(shop):
    client = _client(_staff_with("view_customer", "change_customer"))

    assert len(_ids(client.get("/api/customers/"))) == 2
    assert client.patch(f"/api/customers/{shop['bob'].id}/", {"name": "Robert"}).status_code == 200
    assert client.delete(f"/api/customers/{shop['bob'].id}/").status_code == 403
    assert Customer.objects.get(id=shop["bob"].id).name == "Robert"


def test_non_staff_user_holding_permissions_is_not_staff(shop):
    user = UserFactory(username="granted")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "add_product"])
    )
    client = _client(user)

    assert client.get("/api/orders/").status_code == 403
    assert client.post("/api/products/", {"sku": "X", "name": "X", "price": "1"}).status_code == 403


def test_superuser_reads_everything(staff_api, shop):
    assert len(_ids(staff_api.get("/api/orders/"))) == 2
    assert len(_ids(staff_api.get("/api/customers/"))) == 2
    assert len(_ids(staff_api.get("/api/products/"))) == 2
    assert staff_api.get(f"/api/orders/{shop['alice_order'].id}/").status_code == 200


def test_staff_post_events_for_any_customer(shop):
    client = _client(_staff_with("add_event"))

    response = client.post(
        "/api/events/batch/",
        {
            "events": [
                {"type": "purchase", "product": "RETIRED", "customer": shop["bob"].id},
                {"type": "view", "product": "KETTLE", "customer": shop["alice"].id},
                {"type": "view", "product": "KETTLE", "customer": 999999},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"events": {"2": {"customer": ["Unknown customer 999999."]}}}


def test_staff_events_are_written_for_the_customers_named(shop):
    client = _client(_staff_with("add_event"))

    response = client.post(
        "/api/events/batch/",
        {
            "events": [
                {"type": "purchase", "product": "RETIRED", "customer": shop["bob"].id},
                {"type": "view", "product": "KETTLE", "session_key": "guest-1"},
            ]
        },
        format="json",
    )

    assert response.status_code == 201
    assert set(Event.objects.values_list("customer", "session_key")) == {
        (shop["bob"].id, ""),
        (None, "guest-1"),
    }


# --- token authentication -------------------------------------------------------------------------


def test_token_is_issued_for_good_credentials(anonymous, shop):
    response = anonymous.post(
        "/api/auth/token/", {"username": "alice", "password": "correct horse battery staple"}
    )

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=shop["alice_user"]).key}


def test_token_is_refused_for_bad_credentials(anonymous, shop):
    response = anonymous.post("/api/auth/token/", {"username": "alice", "password": "guess"})

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


def test_token_authenticates_api_requests(anonymous, shop):
    token = anonymous.post(
        "/api/auth/token/", {"username": "alice", "password": "correct horse battery staple"}
    ).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = client.get("/api/orders/")

    assert response.status_code == 200
    assert _ids(response) == [shop["alice_order"].id]


def test_a_wrong_token_is_401(shop):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/products/")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
