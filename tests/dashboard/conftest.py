"""Known shop data for the dashboard pages: figures the tests can assert exactly."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from shopops.registry.models import ModelVersion
from shopops.store.models import Order
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def _registry_pages_start_with_no_trainers(no_registered_trainers):
    """These pages list registered kinds; the tests register the kinds they need themselves."""


def _at(day: int, month: int = 6) -> datetime:
    return datetime(2024, month, day, 12, 0, tzinfo=UTC)


@pytest.fixture
def shop_orders(db):
    """Orders whose KPIs over the default period (90 days up to 2024-06-03) are:

    revenue 275.75 over 4 sale orders (AOV 68.94), 2 active customers + 1 guest order,
    1 return worth 40.00 (15% of sales); a cancelled order and an old one fall outside.
    """
    ann, bob = CustomerFactory(name="Ann"), CustomerFactory(name="Bob")
    mug = ProductFactory(sku="MUG", name="Blue mug", price=Decimal("10.00"))
    lamp = ProductFactory(sku="LAMP", name="Desk lamp", price=Decimal("35.25"))
    status = Order.Status
    rows = [
        (ann, status.PAID, "120.00", _at(1)),
        (ann, status.SHIPPED, "80.50", _at(3)),
        (bob, status.DELIVERED, "45.25", _at(2)),
        (None, status.PENDING, "30.00", _at(2)),
        (bob, status.RETURNED, "40.00", _at(2)),
        (bob, status.CANCELLED, "99.00", _at(1)),
        (bob, status.PAID, "1000.00", _at(1, month=1)),
    ]
    orders = [
        OrderFactory(customer=customer, status=state, total=Decimal(total), placed_at=placed)
        for customer, state, total, placed in rows
    ]
    OrderItemFactory(order=orders[0], product=mug, quantity=5)
    OrderItemFactory(order=orders[1], product=mug, quantity=3)
    OrderItemFactory(order=orders[2], product=lamp, quantity=1)
    OrderItemFactory(order=orders[4], product=lamp, quantity=4)  # returned: not a best seller
    return orders


@pytest.fixture
def model_versions(db):
    """segmentation v1 ready, v2 active, v3 training at 40%; churn v1 failed."""
    common = {"started_at": _at(1), "finished_at": datetime(2024, 6, 1, 12, 1, 30, tzinfo=UTC)}
    v1 = ModelVersion.objects.create(
        kind="segmentation",
        version=1,
        status=ModelVersion.Status.READY,
        params={"k": 4, "features": ["recency", "frequency"]},
        metrics={"silhouette": 0.41, "n_clusters": 4},
        gate_passed=False,
        gate_reason="silhouette 0.4100 worse than active 0.4500 (tolerance 0.0)",
        **common,
    )
    v2 = ModelVersion.objects.create(
        kind="segmentation",
        version=2,
        status=ModelVersion.Status.ACTIVE,
        params={"k": 5},
        metrics={"silhouette": 0.45, "n_clusters": 5, "davies_bouldin": 0.8123},
        gate_passed=True,
        gate_reason="silhouette 0.4500 not worse than active 0.4100 (tolerance 0.0)",
        data_window_start=_at(1, month=1),
        data_window_end=_at(1),
        code_version="abc123def456",
        library_versions={"numpy": "2.1.0", "scikit-learn": "1.5.2"},
        artifact_path="/srv/artifacts/segmentation/2",
        artifact_sha256="f" * 64,
        **common,
    )
    v3 = ModelVersion.objects.create(
        kind="segmentation",
        version=3,
        status=ModelVersion.Status.TRAINING,
        progress=0.4,
        progress_message="fitting k-means",
    )
    churn = ModelVersion.objects.create(
        kind="churn",
        version=1,
        status=ModelVersion.Status.FAILED,
        error="TrainingDataError: every customer is in one class",
    )
    return {"v1": v1, "v2": v2, "v3": v3, "churn": churn}


@pytest.fixture
def plain_user(db):
    return UserFactory(username="shopper")


@pytest.fixture
def staff_without_permission(db):
    return UserFactory(username="intern", is_staff=True)


@pytest.fixture
def model_manager(db):
    user = UserFactory(username="ml-lead", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="registry", codename="change_modelversion")
    )
    return user
