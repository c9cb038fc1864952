"""The recommendations API: who may read which customer's lists, and what a list holds."""

import pytest
from django.core.management import call_command

from recommendations.models import CustomerRecommendation
from shopops.registry.models import ModelVersion
from tests.factories import CustomerFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = "/api/recommendations"


@pytest.fixture
def served(customer_user):
    """Alice (the logged-in customer) and Bob each have one precomputed recommendation."""
    _user, alice = customer_user
    bob = CustomerFactory()
    version = ModelVersion.objects.create(
        kind="recommender", version=1, status=ModelVersion.Status.ACTIVE
    )
    because = ProductFactory(name="Teapot")
    products = {}
    for customer, name in ((alice, "Tea cup"), (bob, "Coffee mug")):
        products[customer.id] = ProductFactory(name=name)
        CustomerRecommendation.objects.create(
            model_version=version,
            customer=customer,
            rank=1,
            product=products[customer.id],
            score=0.8,
            reason_product=because,
        )
    return alice, bob, products


def test_a_customer_reads_their_own_recommendations(api_client, customer_user, served):
    alice, _bob, products = served
    api_client.force_authenticate(customer_user[0])

    for url in (
        f"{BASE}/customers/{alice.id}/recommendations/?k=1",
        f"{BASE}/customers/me/recommendations/?k=1",
    ):
        response = api_client.get(url)

        assert response.status_code == 200
        assert response.json()["results"] == [
            {
                "product_id": products[alice.id].id,
                "sku": products[alice.id].sku,
                "name": "Tea cup",
                "price": "9.99",
                "currency": "GBP",
                "score": 0.8,
                "reason_code": "bought",
                "reason": "because you bought Teapot",
            }
        ]


def test_a_customer_gets_a_404_for_another_customer(api_client, customer_user, served):
    _alice, bob, _products = served
    api_client.force_authenticate(customer_user[0])

    assert api_client.get(f"{BASE}/customers/{bob.id}/recommendations/").status_code == 404
    assert api_client.get(f"{BASE}/customers/{bob.id}/segment-popular/").status_code == 404
    assert api_client.get(f"{BASE}/customers/999999/recommendations/").status_code == 404


def test_staff_read_anyone(staff_api, served):
    _alice, bob, products = served

    response = staff_api.get(f"{BASE}/customers/{bob.id}/recommendations/?k=1")

    assert response.status_code == 200
    assert [item["product_id"] for item in response.json()["results"]] == [products[bob.id].id]
    assert staff_api.get(f"{BASE}/customers/{bob.id}/segment-popular/").status_code == 200


def test_anonymous_visitors_read_no_customer_lists(api_client, served):
    alice, _bob, _products = served

    for url in (
        f"{BASE}/customers/{alice.id}/recommendations/",
        f"{BASE}/customers/me/recommendations/",
        f"{BASE}/customers/{alice.id}/segment-popular/",
    ):
        assert api_client.get(url).status_code == 401


def test_a_user_who_is_not_a_customer_has_no_own_list(api_client):
    api_client.force_authenticate(UserFactory())

    assert api_client.get(f"{BASE}/customers/me/recommendations/").status_code == 404


def test_similar_products_are_public_for_active_products_only(api_client):
    red = ProductFactory(name="Red wool scarf", description="Warm knitted scarf")
    blue = ProductFactory(name="Blue wool scarf", description="Warm knitted scarf")
    hidden = ProductFactory(name="Old scarf", is_active=False)

    response = api_client.get(f"{BASE}/products/{red.id}/similar/?k=1")

    assert response.status_code == 200
    assert [item["product_id"] for item in response.json()["results"]] == [blue.id]
    assert response.json()["results"][0]["reason"] == "similar to Red wool scarf"
    assert api_client.get(f"{BASE}/products/{hidden.id}/similar/").status_code == 404


def test_k_is_validated(api_client, customer_user, served):
    api_client.force_authenticate(customer_user[0])

    response = api_client.get(f"{BASE}/customers/me/recommendations/?k=0")

    assert response.status_code == 400
    assert "k" in response.json()


def test_the_schema_documents_the_endpoints_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"

    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(target),
    )

    text = target.read_text()
    for path in (
        "/api/recommendations/customers/{customer_id}/recommendations/:",
        "/api/recommendations/customers/me/recommendations/:",
        "/api/recommendations/customers/{customer_id}/segment-popular/:",
        "/api/recommendations/products/{product_id}/similar/:",
    ):
        assert path in text
