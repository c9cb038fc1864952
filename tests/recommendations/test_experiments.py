"""A/B tests: assignment, Wilson intervals, impressions from the serving API, the click API."""

from collections import Counter

import pytest
from django.db import IntegrityError
from rest_framework.authtoken.models import Token

from recommendations import experiments
from recommendations.models import CustomerRecommendation, Experiment
from shopops.registry.models import ModelVersion
from shopops.store.models import Event
from tests.factories import CustomerFactory, OrderItemFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

CLICKS = "/api/recommendations/clicks/"
MINE = "/api/recommendations/customers/me/recommendations/"
VARIANTS = [{"name": "A", "recommender": "hybrid"}, {"name": "B", "recommender": "ease"}]


def _lists(version: ModelVersion, *keys: str) -> None:
    """One precomputed row per list key, so the version can serve those variants."""
    customer, product = CustomerFactory(), ProductFactory()
    CustomerRecommendation.objects.bulk_create(
        CustomerRecommendation(
            model_version=version,
            recommender=key,
            customer=customer,
            rank=1,
            product=product,
            score=1.0,
        )
        for key in keys
    )


@pytest.fixture
def active_version():
    version = ModelVersion.objects.create(
        kind="recommender", version=1, status=ModelVersion.Status.ACTIVE
    )
    _lists(version, "hybrid", "ease")
    return version


def _start(name: str, variants: list[dict], capture) -> Experiment:
    draft = experiments.experiment_create(name=name, variants=variants)
    with capture(execute=True):
        return experiments.experiment_start(experiment_id=draft.id)


@pytest.fixture
def experiment(active_version, django_capture_on_commit_callbacks):
    return _start("reco-test", VARIANTS, django_capture_on_commit_callbacks)


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


def test_starting_an_experiment_stops_the_active_one(
    experiment, django_capture_on_commit_callbacks
):
    second = _start("second", VARIANTS, django_capture_on_commit_callbacks)

    assert list(Experiment.objects.filter(is_active=True)) == [second]
    experiment.refresh_from_db()
    assert experiment.state == "stopped"
    assert experiment.stopped_at is not None
    assert experiments.experiment_active_get().name == "second"
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


# --- variants serve different lists ----------------------------------------------------------


def _customer_in(experiment: Experiment, variant: str):
    """A logged-in customer whom the experiment assigns to ``variant``."""
    while True:
        user = UserFactory()
        customer = CustomerFactory(user=user)
        if experiments.experiment_variant_for(experiment=experiment, customer_id=customer.id) == (
            variant
        ):
            return user, customer
        customer.delete()


def test_customers_in_different_variants_get_their_variants_lists(
    api_client, active_version, experiment
):
    # given: the version's hybrid list and EASE list differ for both customers
    hybrid_pick, ease_pick = ProductFactory(name="Hybrid pick"), ProductFactory(name="EASE pick")
    users = {}
    for variant in ("A", "B"):
        user, customer = _customer_in(experiment, variant)
        users[variant] = user
        for key, product in (("hybrid", hybrid_pick), ("ease", ease_pick)):
            CustomerRecommendation.objects.create(
                model_version=active_version,
                recommender=key,
                customer=customer,
                rank=1,
                product=product,
                score=0.5,
            )

    # when
    served = {}
    for variant, user in users.items():
        api_client.force_authenticate(user)
        response = api_client.get(MINE, {"k": 1})
        served[variant] = (
            response["X-Experiment-Variant"],
            [item["name"] for item in response.json()["results"]],
        )

    # then: A (hybrid) and B (ease) each see their recommender's list
    assert served == {"A": ("A", ["Hybrid pick"]), "B": ("B", ["EASE pick"])}


def test_ctr_per_variant_comes_from_the_logged_impressions_and_clicks(
    api_client, active_version, experiment
):
    # given: two customers in A and one in B are served their lists
    product = ProductFactory()
    OrderItemFactory(product=product)  # popular: everyone is shown it
    a1, a2 = _customer_in(experiment, "A"), _customer_in(experiment, "A")
    b1 = _customer_in(experiment, "B")
    for user, _customer in (a1, a2, b1, b1):
        api_client.force_authenticate(user)
        assert api_client.get(MINE).status_code == 200
    # and one A customer and the B customer click what they were shown
    for (user, _customer), variant in ((a1, "A"), (b1, "B")):
        api_client.force_authenticate(user)
        body = {"experiment": "reco-test", "variant": variant, "product_id": product.id}
        assert api_client.post(CLICKS, body).status_code == 201

    # when
    a, b = experiments.experiment_results_get(experiment=experiment).variants

    # then: A 1 click / 2 lists, B 1 click / 2 lists
    assert (a.name, a.impressions, a.clicks, a.ctr) == ("A", 2, 1, 0.5)
    assert (b.name, b.impressions, b.clicks, b.ctr) == ("B", 2, 1, 0.5)
    assert (a.low, a.high) == pytest.approx(experiments.wilson_interval(successes=1, trials=2))


def test_staff_previewing_a_customer_sees_the_variant_but_logs_no_impression(
    api_client, staff_user, active_version, experiment
):
    _user, customer = _customer_in(experiment, "B")
    api_client.force_authenticate(staff_user)

    response = api_client.get(f"/api/recommendations/customers/{customer.id}/recommendations/")

    assert response.status_code == 200
    assert response["X-Experiment-Variant"] == "B"
    assert not Event.objects.exists()


def test_starting_and_stopping_change_what_is_served_without_clearing_the_cache(
    api_client, customer_user, active_version, django_capture_on_commit_callbacks
):
    user, _customer = customer_user
    api_client.force_authenticate(user)
    assert "X-Experiment" not in api_client.get(MINE)  # cached: no experiment runs
    draft = experiments.experiment_create(name="reco-test", variants=VARIANTS)
    assert "X-Experiment" not in api_client.get(MINE)  # a draft serves nothing

    with django_capture_on_commit_callbacks(execute=True):
        experiments.experiment_start(experiment_id=draft.id)
    assert api_client.get(MINE)["X-Experiment"] == "reco-test"

    with django_capture_on_commit_callbacks(execute=True):
        experiments.experiment_stop(experiment_id=draft.id)
    assert "X-Experiment" not in api_client.get(MINE)
    assert Event.objects.count() == 1  # the one list served while it ran


def test_an_experiment_starts_only_when_the_served_model_has_its_lists(
    django_capture_on_commit_callbacks,
):
    variants = [{"name": "A", "recommender": "hybrid"}, {"name": "B", "recommender": "als"}]
    draft = experiments.experiment_create(name="needs-als", variants=variants)

    # no model at all
    with pytest.raises(experiments.ExperimentError, match="no precomputed lists for als, hybrid"):
        experiments.experiment_start(experiment_id=draft.id)

    # a model without ALS lists: the next training precomputes what the draft names
    version = ModelVersion.objects.create(
        kind="recommender", version=1, status=ModelVersion.Status.ACTIVE
    )
    _lists(version, "hybrid")
    assert experiments.experiment_recommender_keys() == {"als"}
    with pytest.raises(experiments.ExperimentError, match="no precomputed lists for als\\. "):
        experiments.experiment_start(experiment_id=draft.id)
    assert experiments.experiment_active_get() is None

    _lists(version, "als")
    with django_capture_on_commit_callbacks(execute=True):
        started = experiments.experiment_start(experiment_id=draft.id)
    assert (started.state, experiments.experiment_active_get().name) == ("running", "needs-als")


def test_variants_are_validated_and_blends_normalised():
    cleaned = experiments.variants_clean(
        [
            {"name": " A ", "recommender": "hybrid"},
            {"name": "B", "blend": {"item-knn": 1, "ease": 3}},
        ]
    )

    assert cleaned == [
        {"name": "A", "recommender": "hybrid"},
        {"name": "B", "blend": {"ease": 0.75, "item-knn": 0.25}},
    ]
    assert [experiments.variant_recommender_key(variant) for variant in cleaned] == [
        "hybrid",
        "blend:ease=0.75,item-knn=0.25",
    ]


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([{"name": "A", "recommender": "hybrid"}], "2 to 4 variants"),
        (
            [{"name": "A", "recommender": "hybrid"}, {"name": "A", "recommender": "ease"}],
            "distinct names",
        ),
        ([{"name": "A"}, {"name": "B", "recommender": "ease"}], "must serve one of"),
        (
            [{"name": "A", "recommender": "hybrid"}, {"name": "B", "recommender": "magic"}],
            "must serve one of",
        ),
        (
            [{"name": "A", "recommender": "hybrid"}, {"name": "B", "blend": {"hybrid": 1}}],
            "cannot blend hybrid",
        ),
        (
            [{"name": "A", "recommender": "hybrid"}, {"name": "B", "blend": {"ease": 0}}],
            "at least one blend weight",
        ),
        (
            [{"name": "A", "recommender": "hybrid"}, {"name": "B", "blend": {"ease": "x"}}],
            "must be numbers",
        ),
        (
            [{"name": "A", "recommender": "hybrid"}, {"name": "B", "blend": {"ease": -1}}],
            "0 or more",
        ),
        ("A,B", "2 to 4 variants"),
    ],
)
def test_bad_variants_are_refused_with_a_reason(variants, message):
    with pytest.raises(experiments.ExperimentError, match=message):
        experiments.experiment_create(name="bad", variants=variants)
    assert not Experiment.objects.exists()


def test_an_experiment_name_is_a_new_slug():
    experiments.experiment_create(name="first", variants=VARIANTS)

    with pytest.raises(experiments.ExperimentError, match="already exists"):
        experiments.experiment_create(name="first", variants=VARIANTS)
    with pytest.raises(experiments.ExperimentError, match="letters, digits"):
        experiments.experiment_create(name="not a slug", variants=VARIANTS)


def test_a_warm_request_under_an_experiment_only_writes_its_impression(
    api_client, customer_user, experiment, django_assert_num_queries
):
    user, customer = customer_user
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    api_client.get(MINE)

    with django_assert_num_queries(1) as queries:
        response = api_client.get(MINE)

    assert response.status_code == 200
    assert queries.captured_queries[0]["sql"].startswith('INSERT INTO "store_event"')
    assert Event.objects.filter(customer=customer, metadata__kind="impression").count() == 2
