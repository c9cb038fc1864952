"""Churn with the database: training on the demo shop, failures that say why, the pages, the
CSV export and the API's permissions."""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from mining.engine.churn import FEATURE_NAMES, churn_features, churn_history, tree_ensemble_export
from mining.models import ChurnScore
from mining.selectors import churn as selectors
from mining.services import churn as services
from shopops.registry.models import ModelVersion
from shopops.registry.services import (
    ArtifactIntegrityError,
    TrainingResult,
    artifact_directory,
    model_training_run_now,
    model_version_finish,
    model_version_start,
)
from shopops.store.demo import demo_shop_generate
from shopops.store.models import Order
from tests.browser import chromium_page, requires_chromium, staff_log_in
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

AT_RISK_URL = "/api/mining/churn/at-risk/"


@pytest.fixture(autouse=True)
def _one_thread():
    """Gradient boosting's OpenMP threads only fight each other on a small, shared machine."""
    with threadpool_limits(1):
        yield


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _customer_url(customer_id: int) -> str:
    return f"/api/mining/customers/{customer_id}/churn/"


# --- training -----------------------------------------------------------------------------------


def test_training_on_the_demo_shop_records_metrics_scores_and_a_verified_artifact():
    # given: a year of the demo shop
    demo_shop_generate(
        seed=7,
        end_date=date(2025, 6, 30),
        months=12,
        customers=500,
        products_per_category=3,
        with_images=False,
    )

    # when
    version = model_training_run_now(kind="churn")

    # then: the version is active with every model's metrics on the hold-out
    assert version.status == ModelVersion.Status.ACTIVE, version.error
    metrics = version.metrics
    for model in ("tree", "boosting", "baseline_prior", "baseline_recency"):
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            assert 0.0 <= metrics[f"{model}_{name}"] <= 1.0
    assert metrics["chosen_model"] in {"tree", "boosting"}
    assert metrics["roc_auc"] == metrics[f"{metrics['chosen_model']}_roc_auc"]
    assert (metrics["train_cutoff"], metrics["test_cutoff"], metrics["scored_at"]) == (
        "2025-01-02",
        "2025-04-02",
        "2025-07-01",
    )
    assert metrics["horizon_days"] == 90
    assert version.params["horizon_days"] == 90
    assert version.params["random_state"] == 0
    # ... and it learns: well above the prior, and above the recency rule
    assert metrics["baseline_prior_roc_auc"] == 0.5
    assert metrics["roc_auc"] >= metrics["baseline_prior_roc_auc"] + 0.25
    assert metrics["roc_auc"] >= metrics["baseline_recency_roc_auc"] + 0.03
    # the pruned tree is smaller than the unpruned one and reads as rules
    assert metrics["tree_leaves"] < metrics["tree_leaves_unpruned"]
    assert len(metrics["tree_rules"]) == metrics["tree_leaves"]
    assert all(rule["text"].startswith("IF ") for rule in metrics["tree_rules"])
    assert "|--- " in metrics["tree_rules_text"]
    assert [row["feature"] for row in metrics["feature_importances"]] != []
    assert {row["feature"] for row in metrics["feature_importances"]} == set(FEATURE_NAMES)

    # every current customer is scored, ranked by value at risk
    scores = list(ChurnScore.objects.filter(model_version=version).order_by("rank"))
    assert len(scores) == metrics["scored_customers"] > 300
    assert [score.rank for score in scores] == list(range(1, len(scores) + 1))
    risks = [score.risk_score for score in scores]
    assert risks == sorted(risks, reverse=True)
    top = scores[0]
    assert top.risk_score == pytest.approx(float(top.value) * top.probability, abs=0.01)
    assert all(reason["effect"] >= 0.01 for score in scores for reason in score.reasons)
    assert any(score.reasons for score in scores)

    # the artifact is verified before loading and scores exactly what was stored
    model = services.churn_model_load(version=version)
    history = churn_history(selectors.churn_order_rows(), selectors.churn_event_rows())
    current = churn_features(history, cutoff=datetime(2025, 7, 1, tzinfo=UTC))
    probability = dict(
        zip(current.customer_ids.tolist(), model.predict_proba(current.X), strict=True)
    )
    assert {s.customer_id: round(s.probability, 9) for s in scores} == {
        customer_id: round(float(p), 9) for customer_id, p in probability.items()
    }


def _orders(rows):
    """Orders of (customer, day offset from 2024-01-01, total)."""
    start = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    Order.objects.bulk_create(
        Order(
            external_number=f"T{n:06d}",
            customer=customer,
            status=Order.Status.PAID,
            placed_at=start + timedelta(days=day),
            total=Decimal(total),
        )
        for n, (customer, day, total) in enumerate(rows)
    )


def test_too_short_a_history_fails_the_version_with_a_readable_reason():
    # given: 150 days of orders, less than two 90-day horizons
    customers = CustomerFactory.create_batch(60)
    _orders([(c, day, "20.00") for c in customers for day in (0, 75, 149)])

    # when
    version = model_training_run_now(kind="churn")

    # then
    assert version.status == ModelVersion.Status.FAILED
    assert version.error == (
        "The orders span only 150 days (2024-01-01 to 2024-05-29). A churn model with a 90-day "
        "horizon needs more than 180 days: 90 days of outcomes to train on, 90 more to test "
        "on, and order history before both to compute features from."
    )
    assert ChurnScore.objects.count() == 0
    assert not artifact_directory(kind="churn", version=version.version).exists()


def test_too_few_customers_fail_the_version_with_a_readable_reason():
    customers = CustomerFactory.create_batch(5)
    _orders([(c, day, "20.00") for c in customers for day in range(0, 400, 30)])

    version = model_training_run_now(kind="churn")

    assert version.status == ModelVersion.Status.FAILED
    assert version.error == (
        "Only 5 customers bought in the year before the training cut-off 2024-07-30; "
        "a churn model needs at least 50."
    )


def test_one_outcome_only_fails_the_version_with_a_readable_reason():
    # given: every customer orders every 30 days, so nobody ever churns
    customers = CustomerFactory.create_batch(60)
    _orders([(c, day, "20.00") for c in customers for day in range(0, 400, 30)])

    version = model_training_run_now(kind="churn")

    assert version.status == ModelVersion.Status.FAILED
    assert version.error == (
        "At the training cut-off 2024-07-30 only 0 of 60 customers churned within 90 days; "
        "a classifier needs at least 10 customers of each outcome."
    )


def test_a_tampered_artifact_is_refused_before_loading(tmp_path):
    # given: a ready churn version whose artifact is a small exported tree
    version = model_version_start(kind="churn")
    directory = artifact_directory(kind="churn", version=version.version)
    directory.mkdir(parents=True)
    X = np.arange(40, dtype=float).reshape(20, 2)
    tree = DecisionTreeClassifier(max_depth=1).fit(X, np.arange(20) >= 10)
    np.savez(directory / services.ARTIFACT_FILE, **tree_ensemble_export(tree, ["a", "b"]))
    version = model_version_finish(version_id=version.id, result=TrainingResult(metrics={}))
    assert services.churn_model_load(version=version).predict_proba(X[[0, 19]]).tolist() == [
        0.0,
        1.0,
    ]

    # when: the file changes after its digest was recorded
    with (directory / services.ARTIFACT_FILE).open("ab") as handle:
        handle.write(b"\0")

    # then
    with pytest.raises(ArtifactIntegrityError):
        services.churn_model_load(version=version)


# --- a version with known figures for the pages and the API -------------------------------------

RULES = [
    {
        "conditions": ["recency_days > 60.5"],
        "bounds": {"recency_days": [60.5, None]},
        "outcome": "churn",
        "churn_rate": 0.85,
        "customers": 40,
        "score": 0.9,
        "text": "IF recency_days > 60.5 THEN churn (churn rate 85%, 40 customers)",
    },
    {
        "conditions": ["recency_days <= 60.5", "frequency > 2.5"],
        "bounds": {"recency_days": [None, 60.5], "frequency": [2.5, None]},
        "outcome": "stays",
        "churn_rate": 0.1,
        "customers": 60,
        "score": 0.12,
        "text": "IF recency_days <= 60.5 AND frequency > 2.5 THEN stays (churn rate 10%, "
        "60 customers)",
    },
]


def _model_metrics(model: str, auc: float) -> dict:
    return {
        f"{model}_accuracy": auc - 0.05,
        f"{model}_precision": auc - 0.1,
        f"{model}_recall": auc - 0.02,
        f"{model}_f1": auc - 0.06,
        f"{model}_roc_auc": auc,
    }


METRICS = {
    "accuracy": 0.8,
    "precision": 0.75,
    "recall": 0.83,
    "f1": 0.79,
    "roc_auc": 0.85,
    **_model_metrics("tree", 0.85),
    **_model_metrics("boosting", 0.86),
    **_model_metrics("baseline_recency", 0.8),
    **_model_metrics("baseline_prior", 0.5),
    "baseline_roc_auc": 0.8,
    "tree_cv_roc_auc": 0.84,
    "boosting_cv_roc_auc": 0.845,
    "chosen_model": "tree",
    "chosen_model_title": "Pruned decision tree",
    "choice_reason": "tree validation AUC 0.8400 is within 0.01 of boosting's 0.8450",
    "horizon_days": 90,
    "train_cutoff": "2024-01-03",
    "test_cutoff": "2024-04-02",
    "scored_at": "2024-07-01",
    "train_customers": 100,
    "test_customers": 120,
    "train_churn_rate": 0.4,
    "test_churn_rate": 0.35,
    "scored_customers": 3,
    "tree_leaves": 2,
    "tree_leaves_unpruned": 9,
    "tree_ccp_alpha": 0.01,
    "tree_rules": RULES,
    "tree_rules_text": "|--- recency_days <= 60.50\n|   |--- class: 0\n",
    "feature_importances_model": "tree",
    "feature_importances": [
        {"feature": "recency_days", "label": "Days since last order", "importance": 0.2,
         "std": 0.01},
        {"feature": "frequency", "label": "Orders", "importance": 0.05, "std": 0.01},
    ],
}  # fmt: skip


@pytest.fixture
def churn_model(db):
    """Active churn v1 with three scored customers: Ann, Bob, Cy (most value at risk first)."""
    version = ModelVersion.objects.create(
        kind="churn",
        version=1,
        status=ModelVersion.Status.ACTIVE,
        metrics=METRICS,
        finished_at=datetime(2024, 7, 1, 3, 0, tzinfo=UTC),
    )
    ann = CustomerFactory(name="Ann", external_id="ANN", email="ann@example.com")
    bob = CustomerFactory(name="=Bob", external_id="BOB", email="bob@example.com")
    cy = CustomerFactory(name="Cy", external_id="CY", email="cy@example.com")
    reason = {
        "feature": "recency_days",
        "label": "Days since last order",
        "value": 120.0,
        "typical": 30.0,
        "effect": 0.3,
        "text": "Days since last order: 120 (typical 30)",
    }
    rows = [
        (ann, 1, 0.8, "500.00", 400.0, 120.0, 3, [reason]),
        (bob, 2, 0.5, "300.00", 150.0, 45.5, 5, []),
        (cy, 3, 0.1, "1000.00", 100.0, 10.0, 12, []),
    ]
    for customer, rank, probability, value, risk, recency, frequency, reasons in rows:
        ChurnScore.objects.create(
            model_version=version,
            customer=customer,
            rank=rank,
            probability=probability,
            value=Decimal(value),
            risk_score=risk,
            recency_days=recency,
            frequency=frequency,
            reasons=reasons,
        )
    return {"version": version, "ann": ann, "bob": bob, "cy": cy}


@pytest.fixture
def model_manager(db):
    user = UserFactory(username="ml-lead", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="registry", codename="change_modelversion")
    )
    return user


@pytest.fixture
def churn_viewer(db):
    """Staff who may read churn scores and customers through the API, and nothing else."""
    user = UserFactory(username="analyst", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="mining", codename="view_churnscore"),
        Permission.objects.get(content_type__app_label="store", codename="view_customer"),
    )
    return user


# --- pages --------------------------------------------------------------------------------------


def test_the_overview_shows_the_comparison_rules_and_customers_at_risk(
    client, staff_user, churn_model
):
    client.force_login(staff_user)

    response = client.get(reverse("mining:churn"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-churn-kpi="customers">3</div>' in html
    assert 'data-churn-kpi="likely">2</div>' in html
    assert 'data-churn-kpi="at-risk">650</div>' in html
    assert 'data-churn-kpi="auc">0.850</div>' in html
    assert "best baseline 0.800" in html
    rows = re.findall(r'<tr data-model="(\w+)"( class="chosen")?>', html)
    assert rows == [
        ("tree", ' class="chosen"'),
        ("boosting", ""),
        ("baseline_recency", ""),
        ("baseline_prior", ""),
    ]
    tree_row = html.split('<tr data-model="tree" class="chosen">')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">([\d.]+)</td>', tree_row) == [
        "0.800",
        "0.750",
        "0.830",
        "0.790",
        "0.850",
        "0.840",
    ]
    assert (
        "learned from the 100 customers as of 2024-01-03 and whether they ordered in the next "
        "90 days (40% did not)" in html
    )
    assert "tested on the 120 customers as of 2024-04-02" in html
    assert "2 leaves, pruned from 9" in html
    assert "<code>recency_days &gt; 60.5</code>" in html
    assert "<code>recency_days &lt;= 60.5</code> AND <code>frequency &gt; 2.5</code>" in html
    assert re.findall(r'data-customer-id="(\d+)"', html) == [
        str(churn_model[name].id) for name in ("ann", "bob", "cy")
    ]
    assert "<div>Days since last order: 120 (typical 30)</div>" in html
    charts = response.context["charts"]
    assert charts["comparison"]["models"] == [
        "Pruned decision tree",
        "Gradient boosting",
        "Baseline: recency rule",
        "Baseline: class prior",
    ]
    assert charts["comparison"]["values"][3] == [0.45, 0.4, 0.48, 0.44, 0.5]
    assert charts["importances"] == {
        "labels": ["Days since last order", "Orders"],
        "values": [0.2, 0.05],
    }
    assert 'id="churn-comparison-chart"' in html
    assert 'id="churn-importance-chart"' in html
    assert 'action="/dashboard/mining/churn/retrain/"' in html  # a superuser may retrain


def test_the_overview_reads_a_page_of_customers_in_a_fixed_number_of_queries(
    client, staff_user, churn_model, django_assert_num_queries
):
    # given: 40 more scored customers on the page
    version = churn_model["version"]
    for rank, customer in enumerate(CustomerFactory.create_batch(40), start=4):
        ChurnScore.objects.create(
            model_version=version,
            customer=customer,
            rank=rank,
            probability=0.2,
            value=Decimal("10.00"),
            risk_score=2.0,
            recency_days=5.0,
            frequency=1,
        )
    client.force_login(staff_user)

    # when / then: session, user, the active, training and latest versions, the summary, the
    # page's count and its rows with their customers joined; no query per row
    with django_assert_num_queries(8):
        response = client.get(reverse("mining:churn"))
    assert response.content.decode().count("data-customer-id=") == 43


def test_the_customers_at_risk_are_paginated(client, staff_user, churn_model, monkeypatch):
    monkeypatch.setattr("mining.views.churn.PAGE_SIZE", 2)
    client.force_login(staff_user)

    first = client.get(reverse("mining:churn")).content.decode()
    second = client.get(reverse("mining:churn"), {"page": 2}).content.decode()

    ids = {name: str(churn_model[name].id) for name in ("ann", "bob", "cy")}
    assert re.findall(r'data-customer-id="(\d+)"', first) == [ids["ann"], ids["bob"]]
    assert re.findall(r'data-customer-id="(\d+)"', second) == [ids["cy"]]
    assert "Page 2 of 2 · 3 customers" in second


def test_without_a_model_the_page_says_how_to_get_one(client, model_manager):
    ModelVersion.objects.create(
        kind="churn", version=1, status=ModelVersion.Status.FAILED, error="Not enough orders."
    )
    client.force_login(model_manager)

    response = client.get(reverse("mining:churn"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "No churn model has been trained yet." in html
    assert "The latest training, v1, failed: Not enough orders." in html
    assert ">Train the first model</button>" in html
    assert "churn-comparison-chart" not in html


def test_staff_without_the_permission_see_no_retrain_button(client, churn_model):
    client.force_login(UserFactory(username="intern", is_staff=True))

    html = client.get(reverse("mining:churn")).content.decode()

    assert "Churn risk" in html
    assert "/dashboard/mining/churn/retrain/" not in html


@pytest.mark.parametrize("name", ["churn", "churn-at-risk-csv"])
def test_the_pages_send_everyone_else_to_the_login(client, name):
    url = reverse(f"mining:{name}")

    anonymous = client.get(url)
    client.force_login(UserFactory(username="shopper"))
    customer = client.get(url)

    for response in (anonymous, customer):
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={url}"


def test_the_csv_export_lists_every_customer_at_risk(client, staff_user, churn_model):
    client.force_login(staff_user)

    response = client.get(reverse("mining:churn-at-risk-csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="churn-at-risk-v1.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    ids = {name: str(churn_model[name].id) for name in ("ann", "bob", "cy")}
    assert rows == [
        [
            "rank",
            "customer_id",
            "external_id",
            "name",
            "email",
            "churn_probability",
            "value",
            "value_at_risk",
            "days_since_last_order",
            "orders",
            "reasons",
        ],
        ["1", ids["ann"], "ANN", "Ann", "ann@example.com", "0.8000", "500.00", "400.00", "120",
         "3", "Days since last order: 120 (typical 30)"],
        # a name that a spreadsheet would run as a formula is quoted
        ["2", ids["bob"], "BOB", "'=Bob", "bob@example.com", "0.5000", "300.00", "150.00", "46",
         "5", ""],
        ["3", ids["cy"], "CY", "Cy", "cy@example.com", "0.1000", "1000.00", "100.00", "10", "12",
         ""],
    ]  # fmt: skip


def test_the_csv_export_without_a_model_goes_back_to_the_page(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("mining:churn-at-risk-csv"), follow=True)

    assert response.redirect_chain == [(reverse("mining:churn"), 302)]
    assert _messages(response) == ["There is no churn model yet, so nothing to export."]


def test_retrain_queues_a_training(client, model_manager):
    client.force_login(model_manager)

    response = client.post(reverse("mining:churn-retrain"), follow=True)

    version = ModelVersion.objects.get(kind="churn")
    assert response.redirect_chain == [(reverse("mining:churn"), 302)]
    # Inside the test's transaction the queued task waits for a commit that never comes.
    assert version.status == ModelVersion.Status.TRAINING
    assert version.params == {"horizon_days": 90, "random_state": 0}
    assert _messages(response) == [
        "Churn model v1 is training; this page shows it when it finishes."
    ]
    assert "Churn model v1 is training (queued)." in response.content.decode()


def test_retrain_while_training_says_so(client, model_manager):
    model_version_start(kind="churn")
    client.force_login(model_manager)

    response = client.post(reverse("mining:churn-retrain"), follow=True)

    assert _messages(response) == [
        "A churn model is already training. This page shows it when it finishes; start another "
        "one after that."
    ]
    assert ModelVersion.objects.filter(kind="churn").count() == 1


def test_retrain_needs_the_permission_and_a_post(client, model_manager):
    client.force_login(UserFactory(username="intern", is_staff=True))
    refused = client.post(reverse("mining:churn-retrain"))
    client.force_login(model_manager)
    fetched = client.get(reverse("mining:churn-retrain"))

    assert refused.status_code == 403
    assert fetched.status_code == 405
    assert not ModelVersion.objects.exists()


# --- API ----------------------------------------------------------------------------------------


def test_staff_list_the_customers_at_risk(staff_api, churn_model):
    response = staff_api.get(AT_RISK_URL, {"page_size": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["next"].endswith("?page=2&page_size=2")
    assert [row["external_id"] for row in body["results"]] == ["ANN", "BOB"]
    assert body["results"][0] == {
        "rank": 1,
        "customer_id": churn_model["ann"].id,
        "external_id": "ANN",
        "name": "Ann",
        "email": "ann@example.com",
        "model_version": 1,
        "probability": 0.8,
        "value": "500.00",
        "risk_score": 400.0,
        "recency_days": 120.0,
        "frequency": 3,
        "reasons": [
            {
                "feature": "recency_days",
                "label": "Days since last order",
                "value": 120.0,
                "typical": 30.0,
                "effect": 0.3,
                "text": "Days since last order: 120 (typical 30)",
            }
        ],
    }


def test_the_at_risk_list_costs_the_same_queries_for_one_row_or_three(staff_api, churn_model):
    # given: the rows serialise their model version's number, read with the customer
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # when
    with CaptureQueriesContext(connection) as one_row:
        staff_api.get(AT_RISK_URL, {"page_size": 1})
    with CaptureQueriesContext(connection) as three_rows:
        staff_api.get(AT_RISK_URL, {"page_size": 3})

    # then
    assert len(three_rows) == len(one_row)


def test_staff_read_one_customers_churn(api_client, churn_viewer, churn_model):
    api_client.force_authenticate(churn_viewer)

    found = api_client.get(_customer_url(churn_model["bob"].id))
    unscored = api_client.get(_customer_url(CustomerFactory().id))
    missing = api_client.get(_customer_url(999_999))

    assert found.status_code == 200
    assert (found.json()["rank"], found.json()["probability"], found.json()["value"]) == (
        2,
        0.5,
        "300.00",
    )
    assert unscored.status_code == missing.status_code == 404


def test_without_an_active_model_the_list_is_empty(staff_api):
    response = staff_api.get(AT_RISK_URL)

    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_anonymous_clients_must_authenticate(api_client, churn_model):
    listed = api_client.get(AT_RISK_URL)
    one = api_client.get(_customer_url(churn_model["ann"].id))

    assert listed.status_code == one.status_code == 401
    assert listed["WWW-Authenticate"] == "Token"


def test_customers_never_see_churn_scores_not_even_their_own(api_client, churn_model):
    # given: Ann has a login
    user = UserFactory(username="ann")
    ann = churn_model["ann"]
    ann.user = user
    ann.save()
    api_client.force_authenticate(user)

    # when
    responses = [
        api_client.get(AT_RISK_URL),
        api_client.get(_customer_url(ann.id)),
        api_client.get(_customer_url(churn_model["bob"].id)),
    ]

    # then
    assert [response.status_code for response in responses] == [403, 403, 403]
    assert all("probability" not in response.content.decode() for response in responses)


def test_staff_without_the_permissions_are_refused(api_client, churn_model):
    api_client.force_authenticate(UserFactory(username="intern", is_staff=True))

    listed = api_client.get(AT_RISK_URL)
    one = api_client.get(_customer_url(churn_model["ann"].id))

    assert listed.status_code == one.status_code == 403


# --- in a browser -------------------------------------------------------------------------------


@pytest.mark.browser
@requires_chromium
def test_the_overview_draws_both_charts_in_a_browser(live_server, staff_user, churn_model):
    # Every row exists before the browser starts: Playwright runs an event loop in this thread,
    # and Django refuses ORM calls from a thread with a running loop.
    with chromium_page() as (page, errors):
        staff_log_in(page, live_server.url, "/dashboard/mining/churn/")
        page.wait_for_function(
            "() => window.Chart"
            " && Chart.getChart(document.getElementById('churn-importance-chart'))"
        )
        comparison = page.evaluate(
            "() => Chart.getChart(document.getElementById('churn-comparison-chart')).data"
            ".datasets.map(d => [d.label, d.data])"
        )
        importance = page.evaluate(
            "() => Chart.getChart(document.getElementById('churn-importance-chart')).data"
            ".datasets[0].data"
        )
        current = page.inner_text("nav.sidebar a.current")

    assert comparison[0][1] == pytest.approx([0.8, 0.75, 0.83, 0.79, 0.85])
    assert [label for label, _data in comparison] == [
        "Pruned decision tree",
        "Gradient boosting",
        "Baseline: recency rule",
        "Baseline: class prior",
    ]
    assert importance == [0.2, 0.05]
    assert current == "Churn risk"
    assert errors == []
