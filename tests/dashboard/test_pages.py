"""Every dashboard page: what staff see, who is turned away, and what the buttons change."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from shopops.registry import services
from shopops.registry.models import ModelVersion
from shopops.store.models import ImportRun
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def _kpi(html: str, name: str, value: str) -> str:
    return f'data-kpi="{name}">{value}</div>'


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- overview ------------------------------------------------------------------------------------


def test_home_shows_the_kpis_of_the_default_period(client, staff_user, shop_orders):
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:home"))

    html = response.content.decode()
    assert response.status_code == 200
    assert _kpi(html, "revenue", "275.75") in html
    assert _kpi(html, "orders", "4") in html
    assert _kpi(html, "aov", "68.94") in html
    assert _kpi(html, "active_customers", "2") in html
    assert _kpi(html, "returns", "1") in html
    assert "+ 1 guest orders" in html
    assert "40.00 returned (15% of sales)" in html
    assert "(March 6, 2024 to June 3, 2024)" in html
    assert '<canvas id="revenue-chart"' in html
    assert '<td>MUG</td><td>Blue mug</td><td class="num">8</td><td class="num">2</td>' in html
    series = response.context["series"]
    assert [(row["period"], row["revenue"], row["returned"]) for row in series] == [
        ("2024-06-01", 120.0, 0.0),
        ("2024-06-02", 75.25, 40.0),
        ("2024-06-03", 80.5, 0.0),
    ]


def test_home_with_a_chosen_period_includes_older_orders(client, staff_user, shop_orders):
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:home"), {"start": "2024-01-01", "end": "2024-06-30"})

    html = response.content.decode()
    assert _kpi(html, "revenue", "1,275.75") in html
    assert _kpi(html, "orders", "5") in html


def test_home_with_a_bad_period_explains_and_falls_back_to_the_default(
    client, staff_user, shop_orders
):
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:home"), {"start": "2024-06-10", "end": "2024-06-01"})

    html = response.content.decode()
    assert response.status_code == 200
    assert '<li class="error">The start date must be on or before the end date.</li>' in html
    assert _kpi(html, "revenue", "275.75") in html


def test_home_without_data_shows_zeroes_and_empty_states(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:home"))

    html = response.content.decode()
    assert response.status_code == 200
    assert _kpi(html, "revenue", "0.00") in html
    assert _kpi(html, "orders", "0") in html
    assert _kpi(html, "aov", "0.00") in html
    assert "No orders in this period." in html
    assert "No sales in this period." in html
    assert "<canvas" not in html


def test_navigation_lists_imports_and_trained_models(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:imports"))

    links = [
        (link["title"], link["url"], link["is_current"])
        for link in response.context["dashboard_links"]
    ]
    assert ("Imports", "/dashboard/imports/", True) in links
    assert ("Trained models", "/dashboard/models/", False) in links
    assert ("Overview", "/dashboard/", False) in links


# --- who may see the pages ----------------------------------------------------------------------

PAGES = [
    "/dashboard/",
    "/dashboard/imports/",
    "/dashboard/models/",
    "/dashboard/models/progress.json",
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_admin_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize("url", PAGES)
def test_logged_in_non_staff_users_are_sent_to_the_admin_login(client, plain_user, url):
    client.force_login(plain_user)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


def test_a_version_page_is_staff_only(client, plain_user, model_versions):
    url = reverse("registry:detail", args=[model_versions["v2"].id])
    client.force_login(plain_user)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


# --- trained models: list, detail, progress -----------------------------------------------------


def test_models_page_groups_versions_by_kind(client, staff_user, model_versions):
    client.force_login(staff_user)

    response = client.get(reverse("registry:runs"))

    html = response.content.decode()
    assert response.status_code == 200
    groups = response.context["groups"]
    assert [(g.kind, [r.version.version for r in g.rows]) for g in groups] == [
        ("churn", [1]),
        ("segmentation", [3, 2, 1]),
    ]
    segmentation = groups[1]
    assert segmentation.active == model_versions["v2"]
    assert (segmentation.can_roll_back, groups[0].can_roll_back) == (True, False)
    # the gate's metric first, then the others alphabetically
    assert [r.key_metrics for r in segmentation.rows] == [
        [],
        [("silhouette", "0.45"), ("davies_bouldin", "0.8123"), ("n_clusters", "5")],
        [("silhouette", "0.41"), ("n_clusters", "4")],
    ]
    assert '<span class="badge active">active: v2</span>' in html
    assert '<span class="badge training">Training</span>' in html
    assert '<span class="badge failed">Failed</span>' in html
    assert f'data-training-id="{model_versions["v3"].id}"' in html
    assert '<div style="width: 40%"></div>' in html
    assert "40% · fitting k-means" in html
    assert "every customer is in one class" in html
    assert "✓ passed" in html
    assert "✗ held back" in html
    assert "2024-01-01 – 2024-06-01" in html
    assert "1 min 30 s" in html


def test_models_page_charts_metrics_of_kinds_with_two_measured_versions(
    client, staff_user, model_versions
):
    client.force_login(staff_user)

    response = client.get(reverse("registry:runs"))

    assert response.context["charts"] == [
        {
            "kind": "segmentation",
            "labels": ["v1", "v2"],
            "statuses": ["ready", "active"],
            "metrics": {
                "silhouette": [0.41, 0.45],
                "davies_bouldin": [None, 0.8123],
                "n_clusters": [4.0, 5.0],
            },
            "default_metric": "silhouette",
        }
    ]
    html = response.content.decode()
    assert '<canvas data-chart-kind="segmentation"' in html
    assert 'id="metric-charts"' in html
    assert "js/registry.js" in html


def test_models_page_filters_by_kind(client, staff_user, model_versions):
    client.force_login(staff_user)

    response = client.get(reverse("registry:runs"), {"kind": "churn"})

    assert [g.kind for g in response.context["groups"]] == ["churn"]
    assert response.context["charts"] == []
    assert client.get(reverse("registry:runs"), {"kind": "nope"}).status_code == 404


def test_models_page_shows_the_newest_versions_and_links_to_all(client, staff_user, settings):
    for number in range(1, 15):
        ModelVersion.objects.create(
            kind="als", version=number, status="ready", metrics={"precision_at_10": number / 100}
        )
    client.force_login(staff_user)

    overview = client.get(reverse("registry:runs"))
    everything = client.get(reverse("registry:runs"), {"kind": "als"})

    (group,) = overview.context["groups"]
    assert [r.version.version for r in group.rows] == list(range(14, 2, -1))
    assert group.hidden == 2
    assert "Show all 14 als versions" in overview.content.decode()
    assert len(everything.context["groups"][0].rows) == 14


def test_an_active_version_older_than_the_shown_ones_is_still_found(client, staff_user):
    for number in range(1, 15):
        status = "active" if number == 2 else "ready"
        ModelVersion.objects.create(kind="als", version=number, status=status)
    client.force_login(staff_user)

    response = client.get(reverse("registry:runs"))

    (group,) = response.context["groups"]
    assert (group.active.version, group.can_roll_back) == (2, True)
    assert '<span class="badge active">active: v2</span>' in response.content.decode()


def test_models_page_without_models_explains_what_to_do(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("registry:runs"))

    assert response.status_code == 200
    assert "No models yet." in response.content.decode()
    assert response.context["charts"] == []


def test_version_page_shows_everything_recorded(client, staff_user, model_versions):
    client.force_login(staff_user)

    response = client.get(reverse("registry:detail", args=[model_versions["v2"].id]))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<h1 style="margin:0">segmentation v2</h1>' in html
    assert '<td>k</td><td><code class="value">5</code></td>' in html
    assert '<td>numpy</td><td><code class="value">2.1.0</code></td>' in html
    assert "/srv/artifacts/segmentation/2" in html
    assert "f" * 64 in html
    assert "abc123def456" in html
    assert "1 min 30 s" in html
    assert [(m.name, m.value) for m in response.context["metrics"]] == [
        ("davies_bouldin", "0.8123"),
        ("n_clusters", "5"),
        ("silhouette", "0.45"),
    ]


def test_version_page_compares_metrics_with_the_active_version(client, staff_user, model_versions):
    client.force_login(staff_user)

    response = client.get(reverse("registry:detail", args=[model_versions["v1"].id]))

    assert [(m.name, m.value, m.active_value, m.delta) for m in response.context["metrics"]] == [
        ("n_clusters", "4", "5", "-1"),
        ("silhouette", "0.41", "0.45", "-0.04"),
    ]
    features = "[&quot;recency&quot;, &quot;frequency&quot;]"
    assert f'<td>features</td><td><code class="value">{features}</code></td>' in (
        response.content.decode()
    )


def test_version_page_of_a_failed_training_shows_its_error(client, staff_user, model_versions):
    client.force_login(staff_user)

    response = client.get(reverse("registry:detail", args=[model_versions["churn"].id]))

    assert (
        '<pre class="error">TrainingDataError: every customer is in one class</pre>'
        in response.content.decode()
    )


def test_version_page_of_an_unknown_id_is_404(client, staff_user):
    client.force_login(staff_user)

    assert client.get(reverse("registry:detail", args=[999])).status_code == 404


def test_progress_json_lists_running_trainings(client, staff_user, model_versions):
    client.force_login(staff_user)

    response = client.get(reverse("registry:progress"))

    assert response.status_code == 200
    assert response.json() == {
        "trainings": [
            {
                "id": model_versions["v3"].id,
                "kind": "segmentation",
                "version": 3,
                "status": "training",
                "progress": 0.4,
                "message": "fitting k-means",
            }
        ]
    }
    assert response["Content-Type"] == "application/json"
    assert client.get(reverse("registry:progress"), {"kind": "churn"}).json() == {"trainings": []}


# --- trained models: train, promote, roll back ----------------------------------------------------


def _post(client, name, args=(), **data):
    return client.post(reverse(f"registry:{name}", args=args), data, follow=True)


def _statuses(kind="segmentation") -> dict[int, str]:
    return dict(ModelVersion.objects.filter(kind=kind).values_list("version", "status"))


def test_promote_makes_a_ready_version_active(client, model_manager, model_versions):
    client.force_login(model_manager)

    response = _post(client, "promote", args=[model_versions["v1"].id])

    assert _statuses() == {1: "active", 2: "ready", 3: "training"}
    assert _messages(response) == ["segmentation v1 is now the active model."]
    assert response.redirect_chain == [("/dashboard/models/", 302)]


def test_promote_of_a_failed_version_explains_why_not(client, model_manager, model_versions):
    client.force_login(model_manager)

    response = _post(client, "promote", args=[model_versions["churn"].id])

    assert _messages(response) == [
        "Only a ready version can be promoted; churn v1 (failed) is failed."
    ]
    assert _statuses("churn") == {1: "failed"}


def test_promote_of_an_unknown_version_is_404(client, model_manager):
    client.force_login(model_manager)

    assert client.post(reverse("registry:promote", args=[999])).status_code == 404


def test_rollback_activates_the_previous_ready_version(client, model_manager, model_versions):
    client.force_login(model_manager)

    response = _post(client, "rollback", kind="segmentation")

    assert _statuses() == {1: "active", 2: "ready", 3: "training"}
    assert _messages(response) == ["Rolled back: segmentation v1 is now the active model."]
    assert ">Roll back</button>" not in response.content.decode()  # nothing older is ready


def test_rollback_without_an_earlier_version_explains_why_not(
    client, model_manager, model_versions
):
    client.force_login(model_manager)
    _post(client, "rollback", kind="segmentation")

    response = _post(client, "rollback", kind="segmentation")

    assert _messages(response) == [
        "There is no earlier ready segmentation version to roll back to."
    ]
    assert _statuses() == {1: "active", 2: "ready", 3: "training"}


def test_actions_return_to_the_page_they_came_from_on_this_site_only(
    client, model_manager, model_versions
):
    client.force_login(model_manager)
    detail = reverse("registry:detail", args=[model_versions["v1"].id])

    promote = reverse("registry:promote", args=[model_versions["v1"].id])

    here = client.post(promote, {"next": detail})
    away = client.post(reverse("registry:rollback"), {"kind": "x", "next": "https://evil.example/"})

    assert here["Location"] == detail
    assert away["Location"] == "/dashboard/models/"


@pytest.fixture
def demo_trainer(monkeypatch):
    def train(*, params, artifact_dir, progress):  # never runs: the queue is not reached
        raise AssertionError("training should be queued, not run")

    trainer = services.Trainer(kind="demo", train=train, gate=services.metric_gate("score"))
    monkeypatch.setitem(services._TRAINERS, "demo", trainer)
    monkeypatch.setitem(services._TRAINERS, "segmentation", trainer)
    return trainer


def test_train_now_starts_a_training_version(client, model_manager, demo_trainer):
    client.force_login(model_manager)

    response = _post(client, "train", kind="demo")

    assert _statuses("demo") == {1: "training"}
    assert _messages(response) == ["Training demo v1 has started."]


def _trainer(monkeypatch, train) -> None:
    trainer = services.Trainer(kind="inline", train=train, gate=services.metric_gate("score"))
    monkeypatch.setitem(services._TRAINERS, "inline", trainer)


@pytest.mark.django_db(transaction=True)
def test_train_now_without_a_broker_reports_the_finished_training(client, monkeypatch):
    # given: no broker, so the queued task runs inline as soon as the version row commits
    _trainer(monkeypatch, lambda **_: services.TrainingResult(metrics={"score": 0.9}))
    client.force_login(StaffUserFactory(username="boss"))

    response = _post(client, "train", kind="inline")

    assert _messages(response) == ["inline v1 is trained and now the active model."]
    assert _statuses("inline") == {1: "active"}


@pytest.mark.django_db(transaction=True)
def test_train_now_without_a_broker_reports_bad_data(client, monkeypatch):
    def train(**_):
        raise services.TrainingDataError("only 3 customers; at least 10 are needed")

    _trainer(monkeypatch, train)
    client.force_login(StaffUserFactory(username="boss"))

    response = _post(client, "train", kind="inline")

    assert _messages(response) == [
        "Training inline v1 failed: only 3 customers; at least 10 are needed"
    ]
    assert _statuses("inline") == {1: "failed"}


def test_train_now_while_a_training_runs_says_so_kindly(
    client, model_manager, model_versions, demo_trainer
):
    client.force_login(model_manager)

    response = _post(client, "train", kind="segmentation")

    assert _messages(response) == [
        "A segmentation model is already training. This page updates when it finishes; "
        "start another one after that."
    ]
    assert _statuses() == {1: "ready", 2: "active", 3: "training"}


def test_train_now_of_an_unknown_kind_is_an_error_message(client, model_manager):
    client.force_login(model_manager)

    response = _post(client, "train", kind="astrology")

    assert _messages(response) == ["There is no trainer for the model kind “astrology”."]
    assert not ModelVersion.objects.exists()


def test_trainable_kinds_offer_train_now_even_before_their_first_version(
    client, model_manager, demo_trainer
):
    client.force_login(model_manager)

    html = client.get(reverse("registry:runs")).content.decode()

    assert '<section class="panel" id="kind-demo" data-kind="demo">' in html
    assert "No demo model has been trained yet. Use “Train now” to train the first one." in html
    assert html.count(">Train now</button>") == 2  # demo and segmentation


def test_staff_without_the_permission_see_no_buttons(
    client, staff_without_permission, model_versions, demo_trainer
):
    client.force_login(staff_without_permission)

    html = client.get(reverse("registry:runs")).content.decode()

    assert "Train now" not in html
    assert "Roll back" not in html
    assert "Promote" not in html


ACTIONS = [
    ("train", lambda versions: [], {"kind": "segmentation"}),
    ("promote", lambda versions: [versions["v1"].id], {}),
    ("rollback", lambda versions: [], {"kind": "segmentation"}),
]


@pytest.mark.parametrize(("name", "args", "data"), ACTIONS)
def test_actions_need_staff_with_the_permission(
    client, plain_user, staff_without_permission, model_versions, demo_trainer, name, args, data
):
    url = reverse(f"registry:{name}", args=args(model_versions))

    anonymous = client.post(url, data)
    client.force_login(plain_user)
    not_staff = client.post(url, data)
    client.force_login(staff_without_permission)
    no_permission = client.post(url, data)

    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/admin/login/?next={url}"
    assert not_staff.status_code == 302
    assert no_permission.status_code == 403
    assert _statuses() == {1: "ready", 2: "active", 3: "training"}


@pytest.mark.parametrize(
    ("name", "args", "data", "after"),
    [
        ("train", lambda versions: [], {"kind": "demo"}, ("demo", {1: "training"})),
        ("promote", lambda versions: [versions["v1"].id], {}, ("segmentation", {1: "active"})),
        ("rollback", lambda _: [], {"kind": "segmentation"}, ("segmentation", {1: "active"})),
    ],
)
def test_actions_need_a_csrf_token(
    model_manager, model_versions, demo_trainer, name, args, data, after
):
    client = Client(enforce_csrf_checks=True)
    client.force_login(model_manager)
    url = reverse(f"registry:{name}", args=args(model_versions))
    kind, changed = after

    forged = client.post(url, data)
    unchanged = _statuses(kind)
    client.get(reverse("registry:runs"))  # the page sets the CSRF cookie its forms use
    genuine = client.post(url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert forged.status_code == 403
    assert unchanged == {1: "ready", 2: "active", 3: "training"} or unchanged == {}
    assert genuine.status_code == 302
    assert _statuses(kind).items() >= changed.items()


@pytest.mark.parametrize("name", ["train", "rollback"])
def test_actions_refuse_get(client, model_manager, name):
    client.force_login(model_manager)

    assert client.get(reverse(f"registry:{name}")).status_code == 405


# --- imports ------------------------------------------------------------------------------------


def _import_run(started: datetime, finished: datetime | None, **fields) -> ImportRun:
    run = ImportRun.objects.create(file_format="online-retail", **fields)
    ImportRun.objects.filter(id=run.id).update(started_at=started, finished_at=finished)
    return run


def test_imports_page_lists_runs_newest_first(client, staff_user):
    _import_run(
        datetime(2024, 6, 1, 9, 0, tzinfo=UTC),
        datetime(2024, 6, 1, 9, 2, 5, tzinfo=UTC),
        file_name="online_retail.xlsx",
        status=ImportRun.Status.SUCCEEDED,
        lines_read=541909,
        orders_created=25900,
        items_created=406830,
        returns_created=3836,
        customers_created=4372,
        products_created=4070,
        rejected_by_reason={"missing customer": 135080, "negative price": 2},
    )
    _import_run(
        datetime(2024, 6, 2, 9, 0, tzinfo=UTC),
        None,
        file_name="broken.csv",
        status=ImportRun.Status.FAILED,
        error="Missing column: InvoiceNo",
    )
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:imports"))

    html = response.content.decode()
    assert response.status_code == 200
    assert [row["run"].file_name for row in response.context["rows"]] == [
        "broken.csv",
        "online_retail.xlsx",
    ]
    assert html.index("broken.csv") < html.index("online_retail.xlsx")
    assert '<span class="badge failed">Failed</span>' in html
    assert '<span class="badge active">Succeeded</span>' in html
    assert "Missing column: InvoiceNo" in html
    assert '<td class="num nowrap">2 min 05 s</td>' in html
    assert '<td class="num">541,909</td>' in html
    assert '<td class="num">25,900\n      <div class="muted small nowrap">406,830 items</div>' in (
        html
    )
    assert ">0 items" not in html  # the failed run wrote none
    assert '<div class="muted small nowrap">incl. 3,836 returns</div>' in html
    assert "guest</div>" not in html
    assert '<td class="num">4,372</td>' in html
    assert '<td class="num">4,070</td>' in html
    assert response.context["rows"][1]["rejected"] == [
        ("missing customer", 135080),
        ("negative price", 2),
    ]
    assert '<li class="total">135,082 rejected</li>' in html
    assert '<li><span class="n">135,080</span> missing customer</li>' in html


def test_imports_page_without_runs_explains_how_to_import(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("dashboard:imports"))

    assert response.status_code == 200
    assert "No imports yet." in response.content.decode()
