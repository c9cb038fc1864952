"""A/B tests: assignment, Wilson intervals, impressions from the serving API, the click API."""

from collections import Counter

import pytest
from django.db import IntegrityError

from recommendations import experiments
from recommendations.models import Experiment
from shopops.store.models import Event
from tests.factories import CustomerFactory, OrderItemFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

CLICKS = "/api/recommendations/clicks/"
MINE = "/api/recommendations/customers/me/recommendations/"
VARIANTS = [{"name": "A", "recommender": "hybrid"}, {"name": "B", "recommender": "ease"}]


@pytest.fixture
def experiment():
    return experiments.experiment_start(name="reco-test", variants=VARIANTS)


def _impressions(experiment: Experiment, variant: str, n: int) -> None:
    customer = CustomerFactory()
    Event.objects.bulk_create(
        Event(
            customer=customer,
            event_type=Event.Type.VIEW,
            occurred_at="2026-01-01T00:00:00Z",
            metadata={
                "experiment": experiment.name,
                "variant": variant,
                "kind": "impression",
                "product_ids": [1, 2],
            },
        )
        for _ in range(n)
    )


def _clicks(experiment: Experiment, variant: str, n: int) -> None:
    customer, product = CustomerFactory(), ProductFactory()
    Event.objects.bulk_create(
        Event(
            customer=customer,
            product=product,
            event_type=Event.Type.CLICK,
            occurred_at="2026-01-01T00:00:00Z",
            metadata={"experiment": experiment.name, "variant": variant, "kind": experiments.CLICK},
        )
        for _ in range(n)
    )


def test_assignment_is_deterministic_and_known(experiment):
    assigned = [
        experiments.experiment_variant_for(experiment=experiment, customer_id=customer_id)
        for customer_id in range(1, 9)
    ]

    assert assigned == ["B", "B", "A", "A", "B", "A", "A", "B"]
    assert assigned == [
        experiments.experiment_variant_for(experiment=experiment, customer_id=customer_id)
        for customer_id in range(1, 9)
    ]


def test_assignment_is_roughly_balanced(experiment):
    counts = Counter(
        experiments.experiment_variant_for(experiment=experiment, customer_id=customer_id)
        for customer_id in range(1, 10_001)
    )

    assert set(counts) == {"A", "B"}
    # A fair coin over 10,000 customers stays within 4.5% of half with near certainty.
    assert abs(counts["A"] - 5000) < 225


def test_wilson_interval_matches_the_published_values():
    assert experiments.wilson_interval(successes=10, trials=100) == pytest.approx(
        (0.0552291370606751, 0.17436566150491345)
    )
    assert experiments.wilson_interval(successes=0, trials=10) == pytest.approx(
        (0.0, 0.2775327998628892)
    )
    assert experiments.wilson_interval(successes=0, trials=0) == (0.0, 0.0)


def test_results_count_impressions_and_clicks_per_variant(experiment):
    # given: A shown 100 times and clicked 10 times, B shown 80 and clicked 20
    _impressions(experiment, "A", 100)
    _clicks(experiment, "A", 10)
    _impressions(experiment, "B", 80)
    _clicks(experiment, "B", 20)
    # and events of another experiment, which do not count
    other = Experiment.objects.create(name="other", variants=VARIANTS)
    _impressions(other, "A", 5)

    # when
    results = experiments.experiment_results_get(experiment=experiment)

    # then
    a, b = results.variants
    assert (a.name, a.impressions, a.clicks, a.ctr) == ("A", 100, 10, 0.1)
    assert (a.low, a.high) == pytest.approx((0.0552291370606751, 0.17436566150491345))
    assert (b.name, b.impressions, b.clicks, b.ctr) == ("B", 80, 20, 0.25)
    assert (b.low, b.high) == pytest.approx((0.16806231857542375, 0.3548467461923397))
    assert results.difference == pytest.approx(0.15)


def test_starting_an_experiment_stops_the_active_one(experiment):
    second = experiments.experiment_start(name="second", variants=VARIANTS)

    assert list(Experiment.objects.filter(is_active=True)) == [second]
    with pytest.raises(experiments.ExperimentError):
        experiments.experiment_start(name="bad", variants=[{"name": "A"}, {"name": "A"}])
    with pytest.raises(IntegrityError):
        Experiment.objects.create(name="third", variants=VARIANTS, is_active=True)


def test_serving_my_recommendations_logs_an_impression(api_client, customer_user, experiment):
    user, customer = customer_user
    product = ProductFactory()
    OrderItemFactory(product=product)  # popular in the shop
    api_client.force_authenticate(user)

    response = api_client.get(MINE)

    assert response.status_code == 200
    variant = experiments.experiment_variant_for(experiment=experiment, customer_id=customer.id)
    assert response["X-Experiment"] == "reco-test"
    assert response["X-Experiment-Variant"] == variant
    impression = Event.objects.get(customer=customer, event_type=Event.Type.VIEW)
    assert impression.product_id is None
    assert impression.metadata == {
        "experiment": "reco-test",
        "variant": variant,
        "kind": "impression",
        "product_ids": [product.id],
    }


def test_serving_without_an_experiment_logs_nothing(api_client, customer_user):
    user, _customer = customer_user
    api_client.force_authenticate(user)

    response = api_client.get(MINE)

    assert response.status_code == 200
    assert "X-Experiment" not in response
    assert not Event.objects.exists()


def test_a_customer_logs_a_click(api_client, customer_user, experiment):
    user, customer = customer_user
    product = ProductFactory()
    variant = experiments.experiment_variant_for(experiment=experiment, customer_id=customer.id)
    api_client.force_authenticate(user)

    response = api_client.post(
        CLICKS,
        {"experiment": "reco-test", "variant": variant, "product_id": product.id},
        format="json",
    )

    assert response.status_code == 201
    event = Event.objects.get()
    assert response.json() == {
        "id": event.id,
        "experiment": "reco-test",
        "variant": variant,
        "product_id": product.id,
    }
    assert (event.customer_id, event.product_id, event.event_type) == (
        customer.id,
        product.id,
        "click",
    )
    assert event.metadata == {
        "experiment": "reco-test",
        "variant": variant,
        "kind": experiments.CLICK,
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"experiment": "reco-test", "variant": "A"},
        {"experiment": "reco-test", "variant": "A", "product_id": "x"},
        {"experiment": "reco-test", "variant": "A", "product_id": 999_999},
        {"experiment": "no-such-test", "variant": "A", "product_id": None},
        {"experiment": "no-such-test", "variant": "A", "product_id": "PRODUCT"},
        {"experiment": "reco-test", "variant": "OTHER", "product_id": "PRODUCT"},
    ],
)
def test_a_bad_click_is_a_400(api_client, customer_user, experiment, body):
    user, _customer = customer_user
    product = ProductFactory()
    if body.get("product_id") == "PRODUCT":
        body = {**body, "product_id": product.id}
    api_client.force_authenticate(user)

    response = api_client.post(CLICKS, body, format="json")

    assert response.status_code == 400
    assert not Event.objects.exists()


def test_the_other_variant_is_a_400(api_client, customer_user, experiment):
    user, customer = customer_user
    product = ProductFactory()
    mine = experiments.experiment_variant_for(experiment=experiment, customer_id=customer.id)
    other = "B" if mine == "A" else "A"
    api_client.force_authenticate(user)

    response = api_client.post(
        CLICKS, {"experiment": "reco-test", "variant": other, "product_id": product.id}
    )

    assert response.status_code == 400
    assert "not this customer's variant" in response.json()["detail"]


def test_only_logged_in_customers_log_clicks(api_client, experiment):
    product = ProductFactory()
    body = {"experiment": "reco-test", "variant": "A", "product_id": product.id}

    assert api_client.post(CLICKS, body).status_code in (401, 403)
    api_client.force_authenticate(UserFactory())  # a user who is no customer
    assert api_client.post(CLICKS, body).status_code == 403
    assert not Event.objects.exists()
