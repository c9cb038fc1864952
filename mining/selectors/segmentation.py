"""Reads for customer segmentation: the training features, and the active version's segments.

The feature matrix is built from three aggregate queries (orders, items, views),
each grouped by customer in the database, so its cost grows with customers, not with rows
fetched into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import Mod

from mining.engine.segmentation import FEATURE_NAMES
from mining.models import CustomerSegment, Segment
from shopops.registry.models import ModelVersion
from shopops.registry.services import active_model_version
from shopops.store.models import Event, Order, OrderItem
from shopops.store.selectors import customer_for_user, user_is_staff_with

KIND = "segmentation"
SECONDS_PER_DAY = 86_400.0

#: The feature names as the pages show them.
FEATURE_LABELS: dict[str, str] = {
    "recency_days": "Days since last order",
    "frequency": "Orders",
    "monetary": "Spend",
    "purchase_count": "Items bought",
    "browse_count": "Product views",
    "average_basket": "Average order",
    "return_rate": "Return rate",
    "tenure_days": "Days as customer",
}


@dataclass(frozen=True)
class CustomerFeatures:
    """One row per customer with at least one sale order up to ``as_of``."""

    customer_ids: np.ndarray  # int64, ascending
    values: np.ndarray  # float64, shape (n, len(feature_names))
    feature_names: tuple[str, ...]
    as_of: datetime | None
    first_order_at: datetime | None

    def __len__(self) -> int:
        return len(self.customer_ids)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.feature_names.index(name)]


def latest_order_at() -> datetime | None:
    return Order.objects.aggregate(last=Max("placed_at"))["last"]


def customer_feature_matrix(*, as_of: datetime | None = None) -> CustomerFeatures:
    """Each buying customer's features as of ``as_of`` (default: the latest order's time).

    Only orders placed and events seen up to ``as_of`` count. Sales are orders in
    ``Order.SALE_STATUSES``; cancelled orders count for nothing; returned orders only feed
    ``return_rate`` (returned value / sales value, capped at 1). A customer with no sale order
    is not segmented.

    ``recency_days``: days from the last sale order to ``as_of``; ``frequency``: sale orders;
    ``monetary``: their total; ``purchase_count``: units in them; ``browse_count``: product
    views; ``average_basket``: monetary / frequency; ``tenure_days``: days from the customer's
    first sighting (``first_seen_at`` or their first order, whichever is earlier) to ``as_of``.
    """
    as_of = as_of or latest_order_at()
    empty = CustomerFeatures(
        np.zeros(0, dtype=np.int64),
        np.zeros((0, len(FEATURE_NAMES))),
        FEATURE_NAMES,
        as_of,
        None,
    )
    if as_of is None:
        return empty
    sale = Q(status__in=Order.SALE_STATUSES)
    returned = Q(status=Order.Status.RETURNED)
    orders = {
        row["customer_id"]: row
        for row in Order.objects.filter(customer__isnull=False, placed_at__lte=as_of)
        .values("customer_id")
        .annotate(
            orders=Count("id", filter=sale),
            sales=Sum("total", filter=sale),
            last_sale=Max("placed_at", filter=sale),
            first_order=Min("placed_at"),
            returned=Sum("total", filter=returned),
            first_seen=Min("customer__first_seen_at"),
        )
        .filter(orders__gt=0)
        .order_by()
    }
    if not orders:
        return empty
    items = dict(
        OrderItem.objects.filter(
            order__customer__isnull=False,
            order__placed_at__lte=as_of,
            order__status__in=Order.SALE_STATUSES,
        )
        .values("order__customer_id")
        .annotate(units=Sum("quantity"))
        .order_by()
        .values_list("order__customer_id", "units")
    )
    views = dict(
        Event.objects.filter(
            customer__isnull=False, event_type=Event.Type.VIEW, occurred_at__lte=as_of
        )
        .values("customer_id")
        .annotate(views=Count("id"))
        .order_by()
        .values_list("customer_id", "views")
    )
    ids = np.array(sorted(orders), dtype=np.int64)
    values = np.zeros((len(ids), len(FEATURE_NAMES)))
    for row_index, customer_id in enumerate(ids.tolist()):
        row = orders[customer_id]
        sales = float(row["sales"] or 0)
        returned_value = float(row["returned"] or 0)
        first = min(row["first_order"], row["first_seen"] or row["first_order"])
        values[row_index] = (
            max((as_of - row["last_sale"]).total_seconds(), 0.0) / SECONDS_PER_DAY,
            row["orders"],
            sales,
            items.get(customer_id, 0),
            views.get(customer_id, 0),
            sales / row["orders"],
            min(returned_value / sales, 1.0) if sales > 0 else 0.0,
            max((as_of - first).total_seconds(), 0.0) / SECONDS_PER_DAY,
        )
    first_order_at = min(row["first_order"] for row in orders.values())
    return CustomerFeatures(ids, values, FEATURE_NAMES, as_of, first_order_at)


# --- reads for the pages and the API ----------------------------------------------------------


def active_segmentation_version() -> ModelVersion | None:
    return active_model_version(kind=KIND)


def segment_list(*, version: ModelVersion) -> list[Segment]:
    """The version's segments, largest first (noise last)."""
    return list(Segment.objects.filter(model_version=version).order_by("is_noise", "-size", "key"))


def segment_get(*, version: ModelVersion, key: int) -> Segment:
    """Raises ``Segment.DoesNotExist`` when the version has no segment with ``key``."""
    return Segment.objects.select_related("model_version").get(model_version=version, key=key)


def segment_members(*, segment: Segment) -> QuerySet[CustomerSegment]:
    """The segment's members with their customers, in customer order."""
    return (
        CustomerSegment.objects.filter(segment=segment)
        .select_related("customer")
        .order_by("customer_id")
    )


def segment_scatter_points(*, version: ModelVersion, limit: int = 3000) -> list[dict[str, Any]]:
    """Up to about ``limit`` customers' projected positions: every n-th membership row.

    Memberships are written in customer order, so every n-th row is a spread sample that keeps
    each segment's share; one query, however many customers there are.
    """
    rows = CustomerSegment.objects.filter(model_version=version)
    total = rows.count()
    if total > limit:
        step = -(-total // limit)
        rows = rows.annotate(bucket=Mod(F("id"), step)).filter(bucket=0)
    return [
        {"x": round(x, 4), "y": round(y, 4), "key": key}
        for x, y, key in rows.order_by("id").values_list("x", "y", "segment__key")[:limit]
    ]


def customer_segment_get(*, customer_id: int, version: ModelVersion) -> CustomerSegment | None:
    """A customer's membership in ``version`` (None when they were not segmented)."""
    return (
        CustomerSegment.objects.filter(customer_id=customer_id, model_version=version)
        .select_related("segment", "customer")
        .first()
    )


def customer_segment_for(*, user, customer_id: int) -> CustomerSegment | None:
    """``customer_id``'s membership in the active version, if ``user`` may read it.

    Staff holding ``mining.view_customersegment`` read anyone's; a logged-in customer only
    their own. Anything else is None, exactly as for a customer who has no segment, so a
    guessed id never confirms that the customer exists.
    """
    version = active_segmentation_version()
    if version is None or user is None or not user.is_authenticated:
        return None
    if not user_is_staff_with(user=user, permission="mining.view_customersegment"):
        customer = customer_for_user(user=user)
        if customer is None or customer.id != customer_id:
            return None
    return customer_segment_get(customer_id=customer_id, version=version)
