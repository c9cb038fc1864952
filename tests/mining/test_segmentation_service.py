"""Customer segmentation against the database: features, training, pages, CSV and the API."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from mining.models import CustomerSegment, Segment
from mining.selectors.segmentation import customer_feature_matrix
from mining.services.segmentation import ARTIFACT_FILE
from shopops.registry import services as registry
from shopops.registry.models import ModelVersion
from shopops.store import demo
from shopops.store.models import Event, Order
from tests.browser import chromium_page, requires_chromium, staff_log_in
from tests.factories import (
    CustomerFactory,
    EventFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    StaffUserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# One thread: the suite shares a small machine (see the engine tests).
FAST = {"n_threads": 1}


def _at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2024, month, day, hour, 0, tzinfo=UTC)


# --- features ---------------------------------------------------------------------------------


@pytest.fixture
def hand_made_shop():
    """Ann and Bob buy; Carol only cancelled; Dave only browsed; plus a guest order."""
    mug = ProductFactory(sku="MUG", price=Decimal("10.00"))
    lamp = ProductFactory(sku="LAMP", price=Decimal("35.00"))
    ann = CustomerFactory(name="Ann", first_seen_at=datetime(2024, 1, 1, tzinfo=UTC))
    bob = CustomerFactory(name="Bob", first_seen_at=None)
    carol = CustomerFactory(name="Carol")
    dave = CustomerFactory(name="Dave")
    status = Order.Status

    def order(customer, state, total, when, lines=()):
        placed = OrderFactory(customer=customer, status=state, total=Decimal(total), placed_at=when)
        for product, quantity in lines:
            OrderItemFactory(order=placed, product=product, quantity=quantity)
        return placed

    order(ann, status.PAID, "100.00", _at(6, 1), [(mug, 2), (lamp, 1)])
    order(ann, status.SHIPPED, "50.00", _at(6, 11), [(mug, 1)])
    order(ann, status.RETURNED, "25.00", _at(6, 15), [(mug, 1)])
    order(ann, status.CANCELLED, "999.00", _at(6, 20), [(lamp, 9)])
    order(ann, status.PAID, "500.00", _at(7, 10), [(lamp, 5)])  # after the reference date
    order(bob, status.DELIVERED, "40.00", _at(5, 1), [(mug, 4)])
    order(carol, status.CANCELLED, "70.00", _at(6, 2), [(lamp, 2)])
    order(None, status.PAID, "80.00", _at(6, 3), [(mug, 8)])
    for day in (2, 3, 4):
        EventFactory(customer=ann, product=mug, occurred_at=_at(6, day))
    EventFactory(customer=ann, product=mug, event_type=Event.Type.CART, occurred_at=_at(6, 5))
    EventFactory(customer=ann, product=lamp, occurred_at=_at(7, 5))  # after the reference date
    EventFactory(customer=dave, product=lamp, occurred_at=_at(6, 6))
    return {"ann": ann, "bob": bob, "carol": carol, "dave": dave}


def test_features_from_hand_made_orders_and_events(hand_made_shop, django_assert_max_num_queries):
    ann, bob = hand_made_shop["ann"], hand_made_shop["bob"]

    with django_assert_max_num_queries(3):
        features = customer_feature_matrix(as_of=datetime(2024, 7, 1, tzinfo=UTC))

    assert features.customer_ids.tolist() == [ann.id, bob.id]
    assert features.feature_names == (
        "recency_days",
        "frequency",
        "monetary",
        "purchase_count",
        "browse_count",
        "average_basket",
        "return_rate",
        "tenure_days",
    )
    np.testing.assert_allclose(
        features.values,
        [
            # 19.5 days since 11 June noon; 2 sales (100 + 50); 3 + 1 units; 3 views (the cart
            # event and the July view do not count); 75 a basket; 25 of 150 returned; a
            # customer since 1 January (182 days, 2024 is a leap year).
            [19.5, 2, 150.0, 4, 3, 75.0, 25 / 150, 182.0],
            # No first_seen_at: tenure runs from the first order.
            [60.5, 1, 40.0, 4, 0, 40.0, 0.0, 60.5],
        ],
    )
    assert features.first_order_at == _at(5, 1)


def test_features_default_to_the_latest_order(hand_made_shop):
    features = customer_feature_matrix()

    assert features.as_of == _at(7, 10)
    ann = features.values[0]
    assert ann[1:4].tolist() == [3, 650.0, 9]  # the July order now counts
    assert ann[0] == 0.0


def test_no_orders_no_features():
    features = customer_feature_matrix()

    assert len(features) == 0
    assert features.values.shape == (0, 8)


# --- training ---------------------------------------------------------------------------------


@pytest.fixture
def demo_shop(db):
    """The demo generator's shop: behaviour groups a segmentation should find."""
    demo.demo_shop_generate(
        seed=3,
        end_date=date(2026, 1, 31),
        months=14,
        customers=300,
        products_per_category=5,
        with_images=False,
    )


def _train(**params) -> ModelVersion:
    return registry.model_training_run_now(kind="segmentation", params={**FAST, **params})


def test_training_records_an_active_version_with_metrics_segments_and_members(demo_shop):
    version = _train()

    assert version.status == ModelVersion.Status.ACTIVE
    metrics = version.metrics
    n_customers = Order.objects.filter(status__in=Order.SALE_STATUSES, customer__isnull=False)
    n_customers = n_customers.values("customer").distinct().count()
    assert metrics["n_customers"] == n_customers
    assert 2 <= metrics["k"] <= 10
    assert metrics["k_curve"]["k"] == list(range(2, 11))
    assert len(metrics["k_curve"]["inertia"]) == len(metrics["k_curve"]["silhouette"]) == 9
    assert metrics["silhouette"] == pytest.approx(
        metrics["k_curve"]["silhouette"][metrics["k"] - 2], abs=1e-3
    )
    assert metrics["davies_bouldin"] > 0
    assert metrics["noise_share"] == 0.0
    assert version.data_window_end == Order.objects.latest("placed_at").placed_at
    assert version.params["as_of"] == version.data_window_end.isoformat()

    segments = list(Segment.objects.filter(model_version=version))
    assert len(segments) == metrics["k"]
    assert sum(s.size for s in segments) == n_customers
    assert sum(s.customer_share for s in segments) == pytest.approx(1.0)
    assert sum(s.revenue_share for s in segments) == pytest.approx(1.0)
    assert min(s.size for s in segments) >= 0.01 * n_customers
    assert len({s.name for s in segments}) == len(segments)
    assert sorted(s.key for s in segments) == list(range(1, len(segments) + 1))
    assert CustomerSegment.objects.filter(model_version=version).count() == n_customers
    # The artifact loads without pickle and agrees with the rows.
    with np.load(f"{version.artifact_path}/{ARTIFACT_FILE}", allow_pickle=False) as artifact:
        assert artifact["cluster_centers"].shape == (metrics["k"], 8)
        assert sorted(artifact["segment_keys"].tolist()) == sorted(s.key for s in segments)
        assert len(artifact["customer_ids"]) == n_customers


def test_segmentation_beats_a_random_assignment_on_demo_data(demo_shop):
    version = _train()

    metrics = version.metrics
    # Random assignment of the same segment sizes scores about 0; the segments clearly more.
    assert metrics["silhouette_random_baseline"] == pytest.approx(0.0, abs=0.08)
    assert metrics["silhouette"] > metrics["silhouette_random_baseline"] + 0.15
    # The most valuable segment, by spend per customer, is the one named for it.
    segments = Segment.objects.filter(model_version=version)
    best = max(segments, key=lambda s: s.feature_means["monetary"])
    assert best.name.split(" · ")[0] in {"Champions", "Loyal", "Can't lose them"}
    assert best.revenue_share > 2 * best.customer_share


def test_a_retraining_a_week_later_keeps_segment_keys_and_names(demo_shop):
    latest = Order.objects.latest("placed_at").placed_at
    first = _train(as_of=(latest - timedelta(days=7)).isoformat())
    before = {s.key: s.name for s in Segment.objects.filter(model_version=first)}

    # A week on: new orders, and every customer's recency and tenure have moved.
    second = _train()

    assert second.status == ModelVersion.Status.ACTIVE
    assert second.metrics["n_customers"] >= first.metrics["n_customers"]
    after = Segment.objects.filter(model_version=second)
    assert {s.key: s.name for s in after} == before
    assert all(s.match_distance is not None for s in after)  # each continues its old self
    assert second.metrics["continued_segments"] == len(before)
    assert second.metrics["warm_started"] is True

    def memberships(version):
        return dict(
            CustomerSegment.objects.filter(model_version=version).values_list(
                "customer_id", "segment__key"
            )
        )

    # Most customers keep their segment's key; a week's drift moves the borderline ones.
    old, new = memberships(first), memberships(second)
    kept = sum(old[customer] == new.get(customer) for customer in old)
    assert kept / len(old) > 0.85


def test_the_same_data_and_seed_give_the_same_segments(demo_shop):
    first = _train()
    second = _train()

    def rows(version):
        return sorted(
            Segment.objects.filter(model_version=version).values_list("key", "name", "size")
        )

    assert rows(second) == rows(first)
    assert second.metrics["silhouette"] == first.metrics["silhouette"]


def test_a_new_cluster_gets_a_fresh_key_never_used_before(demo_shop):
    first = _train(n_clusters=3)
    keys = set(Segment.objects.filter(model_version=first).values_list("key", flat=True))

    second = _train(n_clusters=5)

    segments = list(Segment.objects.filter(model_version=second))
    continued = [s for s in segments if s.match_distance is not None]
    fresh = [s for s in segments if s.match_distance is None]
    assert {s.key for s in continued} <= keys
    assert fresh
    assert all(s.key > max(keys) for s in fresh)
    assert len({s.name for s in segments}) == 5


def test_dbscan_training_reports_noise(demo_shop):
    version = _train(algorithm="dbscan")

    metrics = version.metrics
    assert metrics["algorithm"] == "dbscan"
    assert metrics["eps"] > 0
    assert metrics["min_samples"] == 16
    assert metrics["k_curve"]["k"] == []
    # The demo's customers form one dense cloud with a fringe: DBSCAN reports the fringe as
    # noise, in an "Outliers" segment of its own.
    assert 0 < metrics["noise_share"] < 0.2
    noise = Segment.objects.get(model_version=version, is_noise=True)
    assert (noise.key, noise.name, noise.rfm) == (0, "Outliers", {})
    assert noise.size == round(metrics["noise_share"] * metrics["n_customers"])
    clusters = Segment.objects.filter(model_version=version, is_noise=False).count()
    assert clusters == metrics["k"]
    # One cluster has no silhouette, so the gate holds it back rather than promote it.
    if clusters == 1:
        assert version.status == ModelVersion.Status.READY
        assert version.gate_reason == "new model has no silhouette"


def test_too_few_customers_fail_with_a_readable_reason(hand_made_shop):
    version = _train()

    assert version.status == ModelVersion.Status.FAILED
    assert version.error == "Segmentation needs at least 20 customers with orders; found 2."
    assert not Segment.objects.exists()


# --- rows made by hand, for exact pages, CSV and API answers ------------------------------------


@pytest.fixture
def segmentation_rows(customer_user):
    """An active version with two segments: Alice and Bob are "Champions", Eve "Hibernating"."""
    _user, alice = customer_user
    bob = CustomerFactory(name="Bob", external_id="BOB", email="bob@example.com")
    eve = CustomerFactory(name="=HYPERLINK(1)", external_id="EVE", email="eve@example.com")
    version = ModelVersion.objects.create(
        kind="segmentation",
        version=1,
        status=ModelVersion.Status.ACTIVE,
        metrics={
            "silhouette": 0.41,
            "k": 2,
            "n_customers": 3,
            "davies_bouldin": 0.9,
            "silhouette_random_baseline": -0.01,
            "knee_k": 2,
            "algorithm": "kmeans",
            "selection": "elbow at K=2 (kneedle)",
            "k_curve": {"k": [2, 3], "inertia": [10.0, 8.0], "silhouette": [0.41, 0.3]},
        },
        data_window_end=datetime(2024, 6, 30, tzinfo=UTC),
    )
    means = dict.fromkeys(
        ("recency_days", "frequency", "monetary", "purchase_count", "browse_count",
         "average_basket", "return_rate", "tenure_days"),
        1.0,
    )  # fmt: skip
    champions = Segment.objects.create(
        model_version=version, key=1, name="Champions", size=2, customer_share=2 / 3,
        revenue=Decimal("900.00"), revenue_share=0.9, rfm={"r": 5, "f": 5, "m": 5},
        feature_means=means, centroid=means, x=1.0, y=0.5,
    )  # fmt: skip
    hibernating = Segment.objects.create(
        model_version=version, key=2, name="Hibernating", size=1, customer_share=1 / 3,
        revenue=Decimal("100.00"), revenue_share=0.1, rfm={"r": 1, "f": 1, "m": 1},
        feature_means=means, centroid=means, x=-2.0, y=-1.0,
    )  # fmt: skip
    rows = [
        (alice, champions, 3.5, 7, "600.00", (5, 5, 5), (1.1, 0.4)),
        (bob, champions, 10.0, 4, "300.00", (4, 4, 4), (0.9, 0.6)),
        (eve, hibernating, 200.25, 1, "100.00", (1, 1, 1), (-2.0, -1.0)),
    ]
    for customer, segment, recency, frequency, monetary, (r, f, m), (x, y) in rows:
        CustomerSegment.objects.create(
            customer=customer, segment=segment, model_version=version, recency_days=recency,
            frequency=frequency, monetary=Decimal(monetary), r_score=r, f_score=f, m_score=m,
            x=x, y=y,
        )  # fmt: skip
    return {"version": version, "alice": alice, "bob": bob, "eve": eve, "champions": champions}


# --- pages -----------------------------------------------------------------------------------


def test_the_overview_shows_charts_scatter_and_profiles(client, staff_user, segmentation_rows):
    client.force_login(staff_user)

    response = client.get(reverse("mining:segments"))

    assert response.status_code == 200
    html = response.content.decode()
    charts = response.context["chart_data"]
    assert charts["curve"]["k"] == [2, 3]
    assert charts["chosen_k"] == 2
    assert sorted((p["key"], p["x"], p["y"]) for p in charts["points"]) == [
        (1, 0.9, 0.6),
        (1, 1.1, 0.4),
        (2, -2.0, -1.0),
    ]
    assert [s["name"] for s in charts["segments"]] == ["Champions", "Hibernating"]
    for canvas in ("elbow-chart", "silhouette-chart", "scatter-chart"):
        assert f'id="{canvas}"' in html
    assert 'id="segment-charts"' in html
    assert '<div class="value" data-metric="k">2</div>' in html
    assert "random assignment: -0.010" in html
    champions = reverse("mining:segment-detail", args=[1])
    assert f'<a href="{champions}">Champions</a>' in html
    assert "R5 F5 M5" in html
    assert 'data-action="retrain"' in html


def test_the_overview_without_a_segmentation_shows_the_empty_state(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("mining:segments"))

    assert response.status_code == 200
    assert "No segmentation has run yet." in response.content.decode()
    assert "Train segmentation" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        reverse("mining:segments"),
        reverse("mining:segment-detail", args=[1]),
        reverse("mining:segment-export", args=[1]),
    ],
)
def test_pages_send_non_staff_to_the_login_page(client, segmentation_rows, url):
    client.force_login(UserFactory(username="shopper"))

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_membership_permission_see_no_member_lists(client, segmentation_rows):
    intern = UserFactory(username="intern", is_staff=True)
    client.force_login(intern)

    overview = client.get(reverse("mining:segments"))
    members = client.get(reverse("mining:segment-detail", args=[1]))

    assert overview.status_code == 200
    assert 'data-action="retrain"' not in overview.content.decode()  # no change permission
    assert members.status_code == 403


def test_retrain_queues_a_training_and_shows_its_progress(
    client, staff_user, hand_made_shop, django_capture_on_commit_callbacks
):
    client.force_login(staff_user)
    overview = reverse("mining:segments")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("registry:train"), {"kind": "segmentation", "next": overview}, follow=True
        )
        # The task is queued on commit: until then this page shows the training's progress.
        version = ModelVersion.objects.get(kind="segmentation")
        assert version.status == ModelVersion.Status.TRAINING

    assert response.redirect_chain == [(overview, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Training segmentation v1 has started."
    ]
    html = response.content.decode()
    assert f'data-training-id="{version.id}"' in html
    assert reverse("registry:detail", args=[version.id]) in html
    assert 'data-action="retrain" disabled' in html
    # The task ran on commit; two buying customers are too few, and the registry says why.
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.FAILED
    assert version.error == "Segmentation needs at least 20 customers with orders; found 2."
    assert "data-training-id" not in client.get(overview).content.decode()


def test_the_segment_page_lists_members(client, staff_user, segmentation_rows):
    client.force_login(staff_user)

    response = client.get(reverse("mining:segment-detail", args=[1]))

    assert response.status_code == 200
    members = response.context["page"].object_list
    assert [m.customer.name for m in members] == ["Alice", "Bob"]
    html = response.content.decode()
    assert '<div class="value" data-metric="size">2</div>' in html
    assert reverse("mining:segment-export", args=[1]) in html
    assert "<td>ALICE</td>" in html
    assert "<td>EVE</td>" not in html
    assert client.get(reverse("mining:segment-detail", args=[9])).status_code == 404


def test_the_csv_export_streams_the_members(client, staff_user, segmentation_rows):
    client.force_login(staff_user)
    alice, bob = segmentation_rows["alice"], segmentation_rows["bob"]

    champions = client.get(reverse("mining:segment-export", args=[1]))
    hibernating = client.get(reverse("mining:segment-export", args=[2]))

    assert champions.streaming
    assert champions["Content-Type"] == "text/csv; charset=utf-8"
    assert champions["Content-Disposition"] == 'attachment; filename="segment-s1-champions.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(champions.streaming_content).decode())))
    assert rows == [
        ["customer_id", "external_id", "name", "email", "country", "segment_key", "segment",
         "recency_days", "orders", "spend", "r_score", "f_score", "m_score"],
        [str(alice.id), "ALICE", "Alice", alice.email, "United Kingdom", "S1", "Champions",
         "3.5", "7", "600.00", "5", "5", "5"],
        [str(bob.id), "BOB", "Bob", "bob@example.com", "United Kingdom", "S1", "Champions",
         "10.0", "4", "300.00", "4", "4", "4"],
    ]  # fmt: skip
    # A customer name that a spreadsheet would run as a formula is exported as text.
    eve_row = list(csv.reader(io.StringIO(b"".join(hibernating.streaming_content).decode())))[1]
    assert eve_row[2] == "'=HYPERLINK(1)"


# --- admin -------------------------------------------------------------------------------------


def test_the_admin_shows_segments_and_memberships_read_only(client, staff_user, segmentation_rows):
    client.force_login(staff_user)
    membership = CustomerSegment.objects.get(customer=segmentation_rows["alice"])

    pages = [
        reverse("admin:mining_segment_changelist"),
        reverse("admin:mining_segment_change", args=[segmentation_rows["champions"].id]),
        reverse("admin:mining_customersegment_changelist"),
        reverse("admin:mining_customersegment_change", args=[membership.id]),
    ]

    assert [client.get(url).status_code for url in pages] == [200, 200, 200, 200]
    assert client.get(reverse("admin:mining_segment_add")).status_code == 403
    changelist = client.get(reverse("admin:mining_customersegment_changelist"))
    assert "Champions" in changelist.content.decode()


# --- API ---------------------------------------------------------------------------------------


def _customer_segment_url(customer) -> str:
    return reverse("mining-customer-segment", args=[customer.id])


def test_a_customer_reads_their_own_segment(api_client, customer_user, segmentation_rows):
    user, alice = customer_user
    api_client.force_authenticate(user)

    response = api_client.get(_customer_segment_url(alice))

    assert response.status_code == 200
    assert response.json() == {
        "customer_id": alice.id,
        "segment": {"key": 1, "name": "Champions"},
        "model_version": 1,
        "recency_days": 3.5,
        "frequency": 7,
        "monetary": "600.00",
        "r_score": 5,
        "f_score": 5,
        "m_score": 5,
    }


def test_a_customer_never_sees_another_customers_segment(
    api_client, customer_user, segmentation_rows
):
    user, _alice = customer_user
    api_client.force_authenticate(user)

    other = api_client.get(_customer_segment_url(segmentation_rows["bob"]))
    missing = api_client.get(reverse("mining-customer-segment", args=[999_999]))

    # The same answer as for an id that does not exist: nothing confirms Bob is a customer.
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()


def test_anonymous_visitors_must_authenticate(api_client, segmentation_rows):
    responses = [
        api_client.get(_customer_segment_url(segmentation_rows["alice"])),
        api_client.get(reverse("mining-segment-list")),
        api_client.get(reverse("mining-segment-members", args=[1])),
    ]

    assert [r.status_code for r in responses] == [401, 401, 401]


def test_a_user_who_is_not_a_customer_gets_nothing(api_client, segmentation_rows):
    api_client.force_authenticate(UserFactory(username="shopper"))

    assert api_client.get(_customer_segment_url(segmentation_rows["alice"])).status_code == 404


def test_staff_read_any_customers_segment(staff_api, segmentation_rows):
    response = staff_api.get(_customer_segment_url(segmentation_rows["eve"]))

    assert response.status_code == 200
    assert response.json()["segment"] == {"key": 2, "name": "Hibernating"}


def test_staff_without_permission_read_no_segment(api_client, segmentation_rows):
    intern = UserFactory(username="intern", is_staff=True)
    api_client.force_authenticate(intern)

    assert api_client.get(_customer_segment_url(segmentation_rows["eve"])).status_code == 404
    assert api_client.get(reverse("mining-segment-list")).status_code == 403
    intern.user_permissions.add(
        Permission.objects.get(content_type__app_label="mining", codename="view_segment")
    )
    api_client.force_authenticate(type(intern).objects.get(pk=intern.pk))  # fresh permissions
    assert api_client.get(reverse("mining-segment-list")).status_code == 200


def test_staff_list_segments(staff_api, segmentation_rows):
    response = staff_api.get(reverse("mining-segment-list"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(s["key"], s["name"], s["size"], s["rfm"]) for s in body["results"]] == [
        (1, "Champions", 2, {"r": 5, "f": 5, "m": 5}),
        (2, "Hibernating", 1, {"r": 1, "f": 1, "m": 1}),
    ]
    assert body["results"][0]["revenue"] == "900.00"
    assert body["results"][0]["model_version"] == 1


def test_the_noise_segment_has_no_rfm_scores(staff_api, segmentation_rows):
    Segment.objects.create(
        model_version=segmentation_rows["version"], key=0, name="Outliers", is_noise=True,
        size=0, customer_share=0.0, revenue=Decimal("0"), revenue_share=0.0,
    )  # fmt: skip

    results = staff_api.get(reverse("mining-segment-list")).json()["results"]

    assert [(s["key"], s["is_noise"], s["rfm"]) for s in results] == [
        (1, False, {"r": 5, "f": 5, "m": 5}),
        (2, False, {"r": 1, "f": 1, "m": 1}),
        (0, True, None),
    ]


def test_staff_page_through_a_segments_members(staff_api, segmentation_rows):
    url = reverse("mining-segment-members", args=[1])

    first = staff_api.get(url, {"page_size": 1})
    second = staff_api.get(url, {"page_size": 1, "page": 2})

    assert first.json()["count"] == 2
    assert [m["name"] for m in first.json()["results"]] == ["Alice"]
    assert [m["name"] for m in second.json()["results"]] == ["Bob"]
    assert first.json()["results"][0]["external_id"] == "ALICE"
    assert staff_api.get(reverse("mining-segment-members", args=[9])).status_code == 404


def test_customers_cannot_list_segments_or_members(api_client, customer_user, segmentation_rows):
    user, _alice = customer_user
    api_client.force_authenticate(user)

    assert api_client.get(reverse("mining-segment-list")).status_code == 403
    assert api_client.get(reverse("mining-segment-members", args=[1])).status_code == 403


def test_before_any_training_the_api_has_no_segments(staff_api, customer_user):
    _user, alice = customer_user

    assert staff_api.get(reverse("mining-segment-list")).json()["count"] == 0
    assert staff_api.get(_customer_segment_url(alice)).status_code == 404
    assert staff_api.get(reverse("mining-segment-members", args=[1])).status_code == 404


def test_staff_user_factory_is_a_superuser():
    # The page and API tests above rely on it holding every permission.
    assert StaffUserFactory(username="boss").has_perm("mining.view_customersegment")


# --- in a real browser ------------------------------------------------------------------------


@pytest.mark.browser
@requires_chromium
def test_the_charts_draw_in_a_browser(live_server, staff_user, segmentation_rows):
    # Every row exists before the browser starts: Playwright's event loop runs in this thread,
    # and Django refuses ORM calls while it does.
    overview = "/dashboard/mining/segments/"
    with chromium_page() as (page, errors):
        staff_log_in(page, live_server.url, overview)
        page.wait_for_function("() => window.Chart && Chart.getChart('scatter-chart')")
        drawn = page.evaluate(
            """() => ['elbow-chart', 'silhouette-chart', 'scatter-chart'].map((id) => {
                 const chart = Chart.getChart(id);
                 return [id, chart.data.datasets.map((d) => [d.label, d.data.length])];
               })"""
        )
        page_width = page.evaluate("() => document.documentElement.scrollWidth")
        page.click("text=Champions")
        page.wait_for_url(f"{live_server.url}/dashboard/mining/segments/1/")
        members = page.locator("tr[data-customer-id]").count()

    assert errors == []
    assert drawn == [
        ["elbow-chart", [["Inertia", 2]]],
        ["silhouette-chart", [["Silhouette", 2]]],
        ["scatter-chart", [["Champions", 2], ["Hibernating", 1], ["Segment centres", 2]]],
    ]
    assert page_width == 1280  # the wide profile table scrolls inside its panel
    assert members == 2
