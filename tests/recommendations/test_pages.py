"""The recommendations pages: overview, Retrain, the customer preview and the A/B page."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from recommendations import experiments
from recommendations.forms import SERVES_CHOICES
from recommendations.models import CustomerRecommendation, Experiment, RecommenderEvaluation
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


def _evaluation(
    version: ModelVersion, name: str, ndcg: float, split: str = "validation"
) -> RecommenderEvaluation:
    return RecommenderEvaluation.objects.create(
        model_version=version,
        recommender=name,
        split=split,
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
    """v1 ready, v2 active; v2 evaluated popularity (0.1) and the hybrid (0.2) on
    validation, and on the test period popularity (0.0625) and the hybrid (0.1875)."""
    first = _version(1, 0.15, ModelVersion.Status.READY)
    _evaluation(first, "hybrid", 0.15)
    second = _version(2, 0.2, ModelVersion.Status.ACTIVE)
    second.metrics["test_ndcg_at_10"] = 0.1875
    second.save(update_fields=["metrics"])
    _evaluation(second, "popularity", 0.1)
    _evaluation(second, "hybrid", 0.2)
    _evaluation(second, "popularity", 0.0625, "test")
    _evaluation(second, "hybrid", 0.1875, "test")
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
    # each recommender's validation and test metrics on one row, side by side
    metrics = (
        '<td class="num">0.0500</td><td class="num">0.2500</td><td class="num">0.1250</td>'
        '<td class="num">0.5000</td><td class="num">0.7500</td>'
    )
    assert (
        '<tr data-recommender="hybrid" class="served">\n'
        '      <td>hybrid <span class="badge active">served</span></td>\n'
        f'      <td class="num split">0.2000</td>{metrics}\n'
        f'      <td class="num split">0.1875</td>{metrics}\n'
        '      <td class="num">1.50</td>'
    ) in html
    assert (
        f'<td class="num split">0.1000</td>{metrics}\n'
        f'      <td class="num split">0.0625</td>{metrics}'
    ) in html
    assert "(40 customers; tunes the blend, gates promotion)" in html
    assert "(40 customers; later period, never used to choose)" in html
    assert "v1 (ready) · v2 (active)" in html
    assert _charts(response) == {
        "ndcg": {
            "labels": ["hybrid", "popularity"],
            "validation": [0.2, 0.1],
            "test": [0.1875, 0.0625],
        },
        "history": {
            "labels": ["v1", "v2"],
            "validation": [0.15, 0.2],
            "test": [None, 0.1875],
        },
    }
    assert "Retrain" in html


def test_overview_says_when_a_version_has_no_test_rows(client, staff_user):
    version = _version(1, 0.15, ModelVersion.Status.ACTIVE)
    _evaluation(version, "hybrid", 0.15)
    client.force_login(staff_user)

    html = client.get(reverse(OVERVIEW)).content.decode()

    assert '<td class="num split muted" colspan="6">not evaluated</td>' in html
    assert "This version recorded no test-period rows" in html


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
    experiment = Experiment.objects.create(
        name="blend-test",
        variants=[
            {"name": "A", "recommender": "hybrid"},
            {"name": "B", "blend": {"ease": 0.5, "item-knn": 0.5}},
        ],
        is_active=True,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
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
        '<tr data-variant="A"><td>A</td><td class="small">hybrid</td><td class="num">100</td>'
        '<td class="num">10</td>'
        '<td class="num">0.1000</td><td class="num">0.0552 – 0.1744</td></tr>'
    ) in html
    assert (
        '<tr data-variant="B"><td>B</td><td class="small">blend:ease=0.5,item-knn=0.5</td>'
        '<td class="num">80</td><td class="num">20</td>'
        '<td class="num">0.2500</td><td class="num">0.1681 – 0.3548</td></tr>'
    ) in html
    assert "Difference (B − A): <strong>0.1500</strong>" in html


def test_experiments_page_without_experiments_says_so(client, staff_user):
    client.force_login(staff_user)

    html = client.get(reverse("recommendations:experiments")).content.decode()

    assert "No A/B test has been run yet." in html


# --- creating, starting and stopping A/B tests ------------------------------------------------


def _form(name: str, **variants: str) -> dict[str, str]:
    data = {"name": name}
    for position, (variant, serves) in enumerate(variants.items(), start=1):
        data[f"variant_{position}_name"] = variant
        if serves.startswith("blend:"):
            data[f"variant_{position}_serves"] = "blend"
            data[f"variant_{position}_blend"] = serves.removeprefix("blend:")
        else:
            data[f"variant_{position}_serves"] = serves
    return data


def test_the_form_offers_every_recommender_a_variant_may_serve():
    offered = {value for value, _label in SERVES_CHOICES}

    assert offered == {*experiments.RECOMMENDER_NAMES, "blend"}


def test_a_merchant_creates_starts_and_stops_an_ab_test(
    client, staff_user, trained, django_capture_on_commit_callbacks
):
    # given: the served model (v2) has hybrid and EASE lists
    customer, product = CustomerFactory(), ProductFactory()
    for key in ("hybrid", "ease", "blend:ease=0.7,item-knn=0.3"):
        CustomerRecommendation.objects.create(
            model_version=trained,
            recommender=key,
            customer=customer,
            rank=1,
            product=product,
            score=1.0,
        )
    client.force_login(staff_user)

    # when: a draft with a single recommender and a blend is created
    response = client.post(
        reverse("recommendations:experiment-create"),
        _form("ease-test", A="ease", B="blend:ease=7, item-knn=3"),
        follow=True,
    )

    # then
    experiment = Experiment.objects.get()
    assert (experiment.name, experiment.state) == ("ease-test", "draft")
    assert experiment.variants == [
        {"name": "A", "recommender": "ease"},
        {"name": "B", "blend": {"ease": 0.7, "item-knn": 0.3}},
    ]
    html = response.content.decode()
    assert '<td class="small">blend:ease=0.7,item-knn=0.3</td>' in html
    assert "data-experiment-start>Start</button>" in html

    # when: started, then stopped
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            reverse("recommendations:experiment-start", args=[experiment.id]), follow=True
        )
    assert [str(message) for message in started.context["messages"]] == [
        "A/B test ease-test is running."
    ]
    assert experiments.experiment_active_get().name == "ease-test"
    with django_capture_on_commit_callbacks(execute=True):
        stopped = client.post(
            reverse("recommendations:experiment-stop", args=[experiment.id]), follow=True
        )
    assert [str(message) for message in stopped.context["messages"]] == [
        "A/B test ease-test is stopped."
    ]
    assert experiments.experiment_active_get() is None
    experiment.refresh_from_db()
    assert experiment.state == "stopped"
    assert "data-experiment-start>Resume</button>" in stopped.content.decode()


def test_a_draft_without_lists_cannot_start_and_says_why(client, staff_user, trained):
    draft = experiments.experiment_create(
        name="als-test",
        variants=[{"name": "A", "recommender": "hybrid"}, {"name": "B", "recommender": "als"}],
    )
    client.force_login(staff_user)

    page = client.get(reverse("recommendations:experiments")).content.decode()
    response = client.post(
        reverse("recommendations:experiment-start", args=[draft.id]), follow=True
    )

    assert "The served model has no precomputed lists for <strong>als, hybrid</strong>" in page
    assert "disabled" in page.split("data-experiment-start")[1].split(">")[0]
    assert [str(message) for message in response.context["messages"]] == [
        "The served model has no precomputed lists for als, hybrid. Retrain the recommender "
        "(a training precomputes every draft's lists), then start the experiment."
    ]
    draft.refresh_from_db()
    assert draft.state == "draft"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (_form("one-variant", A="ease"), "An experiment needs 2 to 4 variants."),
        (_form("no-blend", A="ease", B="blend:"), "give the blend, e.g. ease=0.7"),
        (_form("bad-blend", A="ease", B="blend:ease"), "Write each blend member as name=weight"),
        (_form("bad-weight", A="ease", B="blend:ease=x"), "&#x27;x&#x27; is not a number."),
        (_form("magic", A="ease", B="blend:magic=1"), "cannot blend magic"),
        (_form("not a slug", A="ease", B="hybrid"), "Enter a valid “slug”"),
    ],
)
def test_a_bad_ab_test_form_is_a_400_that_says_why(client, staff_user, data, error):
    client.force_login(staff_user)

    response = client.post(reverse("recommendations:experiment-create"), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Experiment.objects.exists()


def test_ab_test_changes_need_their_permissions_and_a_post(client):
    user = UserFactory(is_staff=True)
    draft = experiments.experiment_create(
        name="perm-test",
        variants=[{"name": "A", "recommender": "hybrid"}, {"name": "B", "recommender": "ease"}],
    )
    client.force_login(user)
    start = reverse("recommendations:experiment-start", args=[draft.id])
    create = reverse("recommendations:experiment-create")

    assert client.post(create, _form("x", A="ease", B="hybrid")).status_code == 403
    assert client.post(start).status_code == 403
    assert client.post(reverse("recommendations:experiment-stop", args=[draft.id])).status_code == (
        403
    )
    assert "New A/B test" not in client.get(reverse("recommendations:experiments")).content.decode()
    user.user_permissions.add(Permission.objects.get(codename="change_experiment"))
    assert client.get(start).status_code == 405
    assert Experiment.objects.get().state == "draft"


def test_preview_names_the_customers_variant(
    client, staff_user, trained, django_capture_on_commit_callbacks
):
    customer, product = CustomerFactory(name="Ada"), ProductFactory(name="EASE pick")
    for key in ("hybrid", "ease"):
        CustomerRecommendation.objects.create(
            model_version=trained,
            recommender=key,
            customer=customer,
            rank=1,
            product=product,
            score=1.0,
        )
    experiment = experiments.experiment_create(
        name="preview-test",
        variants=[{"name": "A", "recommender": "ease"}, {"name": "B", "recommender": "ease"}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        experiments.experiment_start(experiment_id=experiment.id)
    variant = experiments.experiment_variant_for(experiment=experiment, customer_id=customer.id)
    client.force_login(staff_user)

    response = client.get(reverse("recommendations:preview"), {"customer": customer.id})

    html = response.content.decode()

    assert (
        f"this customer is in variant <strong>{variant}</strong> and sees the list of "
        "<strong>ease</strong>."
    ) in html
    assert "top 1 by ease" in html
