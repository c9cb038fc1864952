"""The recommendations pages: overview, Retrain, the customer preview and the A/B page."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from recommendations import experiments
from recommendations.models import CustomerRecommendation, RecommenderEvaluation
from shopops.registry import services as registry
from shopops.registry.models import ModelVersion
from tests.factories import (
    CustomerFactory,
    EventFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

OVERVIEW = "recommendations:overview"
NAMES = ("popularity", "hybrid")


def _version(number: int, ndcg: float, status: str) -> ModelVersion:
    return ModelVersion.objects.create(
        kind="recommender",
        version=number,
        status=status,
        metrics={"ndcg_at_10": ndcg},
        finished_at=datetime(2026, 1, number, 9, 0, tzinfo=UTC),
    )


def _evaluation(version: ModelVersion, name: str, ndcg: float) -> RecommenderEvaluation:
    return RecommenderEvaluation.objects.create(
        model_version=version,
        recommender=name,
        k=10,
        precision=0.05,
        recall=0.25,
        ndcg=ndcg,
        map=0.125,
        hit_rate=0.5,
        coverage=0.75,
        fit_seconds=1.5,
        users=40,
    )


@pytest.fixture
def trained():
    """v1 ready, v2 active; v2 evaluated popularity (0.1) and the hybrid (0.2)."""
    first = _version(1, 0.15, ModelVersion.Status.READY)
    _evaluation(first, "hybrid", 0.15)
    second = _version(2, 0.2, ModelVersion.Status.ACTIVE)
    _evaluation(second, "popularity", 0.1)
    _evaluation(second, "hybrid", 0.2)
    return second


def _charts(response) -> dict:
    html = response.content.decode()
    start = html.index(">", html.index('id="reco-charts"')) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_overview_shows_the_latest_evaluations_and_the_history(client, staff_user, trained):
    client.force_login(staff_user)

    response = client.get(reverse(OVERVIEW))

    assert response.status_code == 200
    assert [row.recommender for row in response.context["rows"]] == ["hybrid", "popularity"]
    html = response.content.decode()
    assert '<tr data-recommender="hybrid" class="served">' in html
    assert '<td class="num">0.2000</td>' in html
    assert '<td class="num">0.7500</td>' in html
    assert "v1 (ready) · v2 (active)" in html
    assert _charts(response) == {
        "ndcg": {"labels": ["hybrid", "popularity"], "values": [0.2, 0.1]},
        "history": {"labels": ["v1", "v2"], "values": [0.15, 0.2]},
    }
    assert "Retrain" in html


def test_overview_without_a_model_says_so(client, staff_user):
    client.force_login(staff_user)

    html = client.get(reverse(OVERVIEW)).content.decode()

    assert "No recommender has been trained yet." in html
    assert "Train the first model" in html


def test_the_dashboard_links_to_the_page(client, staff_user):
    client.force_login(staff_user)

    html = client.get(reverse(OVERVIEW)).content.decode()

    assert f'<a href="{reverse(OVERVIEW)}" class="current" aria-current="page">' in html


@pytest.mark.parametrize(
    "name", [OVERVIEW, "recommendations:preview", "recommendations:experiments"]
)
def test_pages_send_non_staff_to_the_login_page(client, name):
    client.force_login(UserFactory())

    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_retrain_queues_a_training(client, staff_user, monkeypatch):
    calls = []

    def enqueue(*, kind):
        calls.append(kind)
        return _version(3, 0.3, ModelVersion.Status.ACTIVE)

    monkeypatch.setattr(registry, "model_training_enqueue", enqueue)
    client.force_login(staff_user)

    response = client.post(reverse("recommendations:retrain"), follow=True)

    assert calls == ["recommender"]
    assert [str(message) for message in response.context["messages"]] == [
        "Recommender v3 is trained and now serves recommendations."
    ]


def test_retrain_while_training_is_a_friendly_message(client, staff_user, monkeypatch):
    def enqueue(*, kind):
        raise registry.TrainingInProgress(kind)

    monkeypatch.setattr(registry, "model_training_enqueue", enqueue)
    client.force_login(staff_user)

    response = client.post(reverse("recommendations:retrain"), follow=True)

    assert [str(message) for message in response.context["messages"]] == [
        "A recommender is already training. This page shows it when it finishes; "
        "start another one after that."
    ]


def test_retrain_needs_the_change_permission_and_a_post(client):
    user = UserFactory(is_staff=True)
    client.force_login(user)

    assert client.post(reverse("recommendations:retrain")).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="change_modelversion"))
    assert client.get(reverse("recommendations:retrain")).status_code == 405


def test_preview_shows_history_beside_recommendations_with_reasons(client, staff_user, trained):
    # given: Ada bought a mug; v2 recommends her a teapot because of it
    ada = CustomerFactory(name="Ada Lovelace", external_id="ADA1")
    mug = ProductFactory(name="Blue mug", price=Decimal("10.00"))
    teapot = ProductFactory(name="Teapot", price=Decimal("24.50"))
    OrderItemFactory(
        order=OrderFactory(customer=ada, placed_at=datetime(2026, 1, 5, tzinfo=UTC)),
        product=mug,
        quantity=2,
    )
    OrderItemFactory(product=teapot)  # someone else bought a teapot: popular
    EventFactory(customer=ada, product=teapot, occurred_at=datetime(2026, 1, 7, tzinfo=UTC))
    CustomerRecommendation.objects.create(
        model_version=trained,
        customer=ada,
        rank=1,
        product=teapot,
        score=0.875,
        reason=CustomerRecommendation.Reason.BOUGHT,
        reason_product=mug,
    )
    client.force_login(staff_user)

    # when: searching by external id finds exactly her
    response = client.get(reverse("recommendations:preview"), {"q": "ada1"})

    # then
    assert response.context["customer"] == ada
    html = response.content.decode()
    assert '<td>2026-01-05</td><td>Blue mug</td><td class="num">2</td>' in html
    assert (
        f'<tr data-product-id="{teapot.id}"><td>1</td><td>Teapot</td>'
        '<td class="num">0.875</td><td class="reason">because you bought Blue mug</td></tr>'
    ) in html
    assert "<td>2026-01-07</td><td>Teapot</td><td>View</td>" in html
    assert [item["name"] for item in response.context["segment_popular"]] == ["Teapot"]
    assert "popular in the shop" in html


def test_preview_lists_several_matches_and_says_when_none(client, staff_user):
    CustomerFactory(name="Ada One")
    CustomerFactory(name="Ada Two")
    client.force_login(staff_user)

    several = client.get(reverse("recommendations:preview"), {"q": "Ada"})
    none = client.get(reverse("recommendations:preview"), {"q": "Zed"})

    assert [customer.name for customer in several.context["matches"]] == ["Ada One", "Ada Two"]
    assert several.context["customer"] is None
    assert "No customer matches “Zed”." in none.content.decode()


def test_experiments_page_shows_ctr_intervals_and_the_difference(client, staff_user):
    experiment = experiments.experiment_start(
        name="blend-test", variants=[{"name": "A"}, {"name": "B"}]
    )
    customer, product = CustomerFactory(), ProductFactory()
    for variant, shown, clicked in (("A", 100, 10), ("B", 80, 20)):
        for _ in range(shown):
            customer.events.create(
                event_type="view",
                occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
                metadata={"experiment": "blend-test", "variant": variant, "kind": "impression"},
            )
        for _ in range(clicked):
            customer.events.create(
                product=product,
                event_type="click",
                occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
                metadata={
                    "experiment": "blend-test",
                    "variant": variant,
                    "kind": experiments.CLICK,
                },
            )
    client.force_login(staff_user)

    html = client.get(reverse("recommendations:experiments")).content.decode()

    assert experiment.name in html
    assert (
        '<tr data-variant="A"><td>A</td><td class="num">100</td><td class="num">10</td>'
        '<td class="num">0.1000</td><td class="num">0.0552 – 0.1744</td></tr>'
    ) in html
    assert (
        '<tr data-variant="B"><td>B</td><td class="num">80</td><td class="num">20</td>'
        '<td class="num">0.2500</td><td class="num">0.1681 – 0.3548</td></tr>'
    ) in html
    assert "Difference (B − A): <strong>0.1500</strong>" in html


def test_experiments_page_without_experiments_says_so(client, staff_user):
    client.force_login(staff_user)

    html = client.get(reverse("recommendations:experiments")).content.decode()

    assert "No A/B test has been run yet." in html
