"""The recommendations API: who may read which customer's lists, and what a list holds."""

import json
import time

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from mining.engine.association import Rule
from mining.services import rules as rules_services
from recommendations import authentication, selectors
from recommendations.api import RecommendationOutputSerializer
from recommendations.models import CustomerRecommendation
from shopops.registry.models import ModelVersion
from shopops.registry.services import model_version_promote
from shopops.store import services as store_services
from shopops.store.models import Order
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


@pytest.mark.parametrize("k", ["0", "51", "-1", "x", "1.5", "1e3"])
def test_k_is_validated(api_client, customer_user, served, k):
    api_client.force_authenticate(customer_user[0])

    response = api_client.get(f"{BASE}/customers/me/recommendations/", {"k": k})

    assert response.status_code == 400
    assert "k" in response.json()


def test_a_warm_request_runs_no_query_beyond_finding_the_customer(
    api_client, customer_user, staff_user, served, django_assert_num_queries
):
    alice, bob, products = served
    api_client.force_authenticate(customer_user[0])
    mine = f"{BASE}/customers/me/recommendations/?k=1"
    cold = api_client.get(mine).json()

    # the logged-in user's customer is the one query; the list and the active version
    # id come from the cache
    with django_assert_num_queries(1):
        warm = api_client.get(mine)
    assert warm.json() == cold
    assert [item["product_id"] for item in cold["results"]] == [products[alice.id].id]

    # staff (a superuser: no permission query) asking about a customer: no query at all
    api_client.force_authenticate(staff_user)
    bobs = f"{BASE}/customers/{bob.id}/recommendations/?k=1"
    api_client.get(bobs)
    with django_assert_num_queries(0):
        assert api_client.get(bobs).status_code == 200


def test_the_list_is_what_the_output_serializer_writes(api_client, customer_user, served):
    alice, _bob, _products = served
    api_client.force_authenticate(customer_user[0])

    response = api_client.get(f"{BASE}/customers/me/recommendations/?k=5")

    items = selectors.customer_recommendations_list(customer_id=alice.id, limit=5)
    assert response.json()["results"] == json.loads(
        json.dumps(RecommendationOutputSerializer(items, many=True).data)
    )


def test_frequently_bought_together_is_public_for_active_products(api_client):
    mug, teapot = ProductFactory(name="Mug"), ProductFactory(name="Teapot")
    hidden = ProductFactory(is_active=False)
    version = ModelVersion.objects.create(
        kind="rules", version=1, status=ModelVersion.Status.ACTIVE
    )
    rules_services.rules_store(
        version=version,
        rules=[
            Rule(
                antecedent=(mug.id,),
                consequent=teapot.id,
                support=0.25,
                confidence=0.5,
                lift=3.0,
                leverage=0.1,
                conviction=2.0,
                antecedent_count=2,
                consequent_count=1,
                rule_count=1,
                n_baskets=4,
            )
        ],
    )

    response = api_client.get(f"{BASE}/products/{mug.id}/frequently-bought-together/?k=3")

    assert response.status_code == 200
    assert [
        (item["product_id"], item["score"], item["reason_code"], item["reason"])
        for item in response.json()["results"]
    ] == [(teapot.id, 3.0, "bought_together", "often bought with Mug")]
    url = f"{BASE}/products/{hidden.id}/frequently-bought-together/"
    assert api_client.get(url).status_code == 404
    assert api_client.get(f"{BASE}/products/999999/frequently-bought-together/").status_code == 404


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
        "/api/recommendations/products/{product_id}/frequently-bought-together/:",
    ):
        assert path in text


# --- token authentication, cached for the list endpoints ----------------------------------------


def test_a_warm_request_with_a_token_runs_no_query(
    api_client, customer_user, served, django_assert_num_queries
):
    user, alice = customer_user
    key = Token.objects.create(user=user).key
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    mine = f"{BASE}/customers/me/recommendations/?k=1"
    cold = api_client.get(mine)
    assert cold.status_code == 200

    with django_assert_num_queries(0):
        warm = api_client.get(mine)
        own = api_client.get(f"{BASE}/customers/{alice.id}/recommendations/?k=1")

    assert warm.json() == cold.json() == own.json()
    # the token itself is not what the process keeps its user under
    assert key not in str(list(authentication._tokens._entries))


def test_a_deleted_token_stops_working_once_its_cached_lookup_expires(
    api_client, customer_user, served, monkeypatch
):
    user, _alice = customer_user
    token = Token.objects.create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    mine = f"{BASE}/customers/me/recommendations/"
    assert api_client.get(mine).status_code == 200
    token.delete()
    now = time.monotonic()

    # within the cache's lifetime the lookup is remembered ...
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now + 29)
    assert api_client.get(mine).status_code == 200
    # ... and after it the token is read again: gone
    monkeypatch.setattr(
        authentication.time, "monotonic", lambda: now + authentication.TOKEN_CACHE_SECONDS + 1
    )
    assert api_client.get(mine).status_code == 401


def test_a_cached_token_still_keeps_customers_apart(api_client, customer_user, served):
    user, _alice = customer_user
    _alice, bob, _products = served
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    assert api_client.get(f"{BASE}/customers/me/recommendations/").status_code == 200
    assert api_client.get(f"{BASE}/customers/{bob.id}/recommendations/").status_code == 404
    assert api_client.get(f"{BASE}/customers/{bob.id}/segment-popular/").status_code == 404


def test_staff_without_the_customer_permission_read_no_one_by_token(api_client, served):
    _alice, bob, _products = served
    clerk = UserFactory(is_staff=True)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=clerk).key}")
    url = f"{BASE}/customers/{bob.id}/recommendations/"

    assert api_client.get(url).status_code == 404
    clerk.user_permissions.add(Permission.objects.get(codename="view_customer"))
    assert api_client.get(url).status_code == 200


@pytest.mark.parametrize("header", ["Token nope", "Token", "Token a b"])
def test_a_bad_token_is_a_401(api_client, served, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)

    response = api_client.get(f"{BASE}/customers/me/recommendations/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_inactive_users_token_is_a_401(api_client, customer_user, served):
    user, _alice = customer_user
    user.is_active = False
    user.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    response = api_client.get(f"{BASE}/customers/me/recommendations/")

    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}


# --- the warm path: answered before DRF's dispatch ----------------------------------------------


@pytest.fixture
def drf_dispatches(monkeypatch):
    """How many requests reached DRF's dispatch (the rest took the warm path)."""
    calls = []
    dispatch = APIView.dispatch

    def counting(self, request, *args, **kwargs):
        calls.append(request.path)
        return dispatch(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "dispatch", counting)
    return calls


def test_a_warm_token_request_skips_drf_and_answers_the_same_bytes(
    api_client, customer_user, served, drf_dispatches
):
    user, alice = customer_user
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    urls = [
        f"{BASE}/customers/me/recommendations/?k=1",
        f"{BASE}/customers/{alice.id}/recommendations/?k=1",
        f"{BASE}/customers/me/recommendations/",
    ]
    cold = []
    for url in urls:
        authentication._tokens.clear()  # a token this process has not seen: DRF answers
        cold.append(api_client.get(url))
    assert len(drf_dispatches) == 3

    warm = [api_client.get(url) for url in urls]

    assert len(drf_dispatches) == 3
    for before, after in zip(cold, warm, strict=True):
        assert after.status_code == before.status_code == 200
        assert after.content == before.content
        for header in ("Content-Type", "Allow", "Content-Length"):
            assert after[header] == before[header]
    assert warm[0].json()["results"][0]["name"] == "Tea cup"


def test_a_superusers_warm_token_previews_anyone_and_a_customers_does_not(
    api_client, customer_user, staff_user, served, drf_dispatches
):
    _alice, bob, products = served
    bobs = f"{BASE}/customers/{bob.id}/recommendations/?k=1"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff_user).key}")
    api_client.get(bobs)

    response = api_client.get(bobs)

    assert response.status_code == 200
    assert [item["product_id"] for item in response.json()["results"]] == [products[bob.id].id]
    assert len(drf_dispatches) == 1
    # the customer's own warm token does not open Bob's list: DRF answers, with a 404
    api_client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=customer_user[0]).key}"
    )
    api_client.get(f"{BASE}/customers/me/recommendations/?k=1")
    assert api_client.get(bobs).status_code == 404
    assert len(drf_dispatches) == 3


@pytest.mark.parametrize(
    ("query", "accept", "status"),
    [
        ("k=x", "*/*", 400),
        ("k=0", "*/*", 400),
        ("k=1&k=2", "*/*", 200),
        ("k=1&format=json", "*/*", 200),
        ("k=1", "application/json; indent=2", 200),
        ("k=1", "text/html", 406),
    ],
)
def test_anything_but_the_plain_warm_request_goes_through_drf(
    api_client, customer_user, served, drf_dispatches, query, accept, status
):
    user, _alice = customer_user
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    mine = f"{BASE}/customers/me/recommendations/"
    assert api_client.get(f"{mine}?k=1").status_code == 200

    response = api_client.get(f"{mine}?{query}", HTTP_ACCEPT=accept)

    assert response.status_code == status
    assert drf_dispatches == [mine, mine]


def test_a_warm_token_request_serves_a_promoted_version_at_once(
    api_client, customer_user, served, django_capture_on_commit_callbacks, drf_dispatches
):
    user, alice = customer_user
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    mine = f"{BASE}/customers/me/recommendations/?k=1"
    api_client.get(mine)
    assert api_client.get(mine).json()["results"][0]["name"] == "Tea cup"
    second = ModelVersion.objects.create(
        kind="recommender", version=2, status=ModelVersion.Status.READY
    )
    CustomerRecommendation.objects.create(
        model_version=second, customer=alice, rank=1, product=ProductFactory(name="Kettle"), score=1
    )

    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=second.id)

    assert api_client.get(mine).json()["results"][0]["name"] == "Kettle"
    # the new version's list was computed through DRF once, then served warm
    assert api_client.get(mine).json()["results"][0]["name"] == "Kettle"
    assert len(drf_dispatches) == 2


def test_a_warm_token_request_leaves_out_what_the_customer_just_bought(
    api_client, customer_user, served, django_capture_on_commit_callbacks, drf_dispatches
):
    user, alice = customer_user
    _alice, _bob, products = served
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    mine = f"{BASE}/customers/me/recommendations/?k=1"
    api_client.get(mine)
    assert api_client.get(mine).json()["results"][0]["name"] == "Tea cup"

    with django_capture_on_commit_callbacks(execute=True):
        store_services.order_create(
            customer=alice,
            items=[store_services.OrderLineInput(product_id=products[alice.id].id, quantity=1)],
            status=Order.Status.PAID,
        )

    names = [item["name"] for item in api_client.get(mine).json()["results"]]
    assert "Tea cup" not in names
    assert len(drf_dispatches) == 2
