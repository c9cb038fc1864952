"""Reads over the shop's tables: KPIs for the dashboard, look-ups for the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Min, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek
from django.utils import timezone

from shopops.store.models import Category, Customer, Order, OrderItem, Product


@dataclass(frozen=True)
class ShopKpis:
    start: date
    end: date
    revenue: Decimal
    orders: int
    average_order_value: Decimal
    active_customers: int
    guest_orders: int
    returns: int
    returned_value: Decimal
    return_rate: float  # returned value / sales value


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def order_date_range() -> tuple[date | None, date | None]:
    bounds = Order.objects.aggregate(first=Min("placed_at"), last=Max("placed_at"))
    first, last = bounds["first"], bounds["last"]
    return (
        timezone.localtime(first).date() if first else None,
        timezone.localtime(last).date() if last else None,
    )


def shop_kpis(*, start: date, end: date) -> ShopKpis:
    """KPIs over orders placed from ``start`` to ``end`` inclusive, in one query."""
    since, until = _day_bounds(start, end)
    sale = Q(status__in=Order.SALE_STATUSES)
    returned = Q(status=Order.Status.RETURNED)
    row = Order.objects.filter(placed_at__gte=since, placed_at__lt=until).aggregate(
        revenue=Sum("total", filter=sale),
        orders=Count("id", filter=sale),
        active_customers=Count("customer", filter=sale & Q(customer__isnull=False), distinct=True),
        guest_orders=Count("id", filter=sale & Q(customer__isnull=True)),
        returns=Count("id", filter=returned),
        returned_value=Sum("total", filter=returned),
    )
    revenue = row["revenue"] or Decimal("0")
    orders = row["orders"] or 0
    returned_value = row["returned_value"] or Decimal("0")
    return ShopKpis(
        start=start,
        end=end,
        revenue=revenue,
        orders=orders,
        average_order_value=(revenue / orders).quantize(Decimal("0.01"))
        if orders
        else Decimal("0"),
        active_customers=row["active_customers"] or 0,
        guest_orders=row["guest_orders"] or 0,
        returns=row["returns"] or 0,
        returned_value=returned_value,
        return_rate=float(returned_value / revenue) if revenue else 0.0,
    )


def revenue_series(*, start: date, end: date) -> list[dict]:
    """Revenue, orders and returned value per bucket (day, week or month by span) in one query."""
    since, until = _day_bounds(start, end)
    span = (end - start).days
    trunc, bucket = (
        (TruncDate, "day")
        if span <= 92
        else ((TruncWeek, "week") if span <= 400 else (TruncMonth, "month"))
    )
    rows = (
        Order.objects.filter(placed_at__gte=since, placed_at__lt=until)
        .annotate(bucket=trunc("placed_at"))
        .values("bucket")
        .annotate(
            revenue=Sum("total", filter=Q(status__in=Order.SALE_STATUSES)),
            orders=Count("id", filter=Q(status__in=Order.SALE_STATUSES)),
            returned=Sum("total", filter=Q(status=Order.Status.RETURNED)),
        )
        .order_by("bucket")
    )
    series = []
    for row in rows:
        label = row["bucket"]
        if isinstance(label, datetime):
            label = timezone.localtime(label).date() if timezone.is_aware(label) else label.date()
        series.append(
            {
                "period": label.isoformat(),
                "bucket": bucket,
                "revenue": float(row["revenue"] or 0),
                "orders": row["orders"],
                "returned": float(row["returned"] or 0),
            }
        )
    return series


def top_products(*, start: date, end: date, limit: int = 10) -> list[dict]:
    since, until = _day_bounds(start, end)
    return list(
        Product.objects.filter(
            order_items__order__placed_at__gte=since,
            order_items__order__placed_at__lt=until,
            order_items__order__status__in=Order.SALE_STATUSES,
        )
        .values("id", "sku", "name")
        .annotate(
            units=Sum("order_items__quantity"), orders=Count("order_items__order", distinct=True)
        )
        .order_by("-units")[:limit]
    )


def customer_for_user(*, user) -> Customer | None:
    if not user or not user.is_authenticated:
        return None
    return Customer.objects.filter(user=user).first()


def orders_visible_to(*, user) -> QuerySet[Order]:
    """Staff see every order; a customer only their own; anyone else none."""
    orders = Order.objects.select_related("customer")
    if user.is_staff:
        return orders
    customer = customer_for_user(user=user)
    if customer is None:
        return orders.none()
    return orders.filter(customer=customer)


# --- the REST API -------------------------------------------------------------------------------
#
# "Staff" in the API means an active staff member holding the model permission the action needs
# (superusers hold every permission). Everyone else is scoped: a customer to their own records,
# an anonymous visitor to the public catalogue.


def user_is_staff_with(*, user, permission: str) -> bool:
    """True when ``user`` is staff and holds ``permission`` (``"store.view_order"``)."""
    return bool(
        user is not None and user.is_authenticated and user.is_staff and user.has_perm(permission)
    )


def category_paths() -> dict[int, str]:
    """Every category's "Root / Child / Leaf" path, from one query over the (small) tree."""
    nodes = {pk: (name, parent_id) for pk, name, parent_id in _category_rows()}
    paths: dict[int, str] = {}
    for pk in nodes:
        names, node, seen = [], pk, set()
        while node is not None and node in nodes and node not in seen:  # guards a cycle
            seen.add(node)
            name, parent_id = nodes[node]
            names.append(name)
            node = parent_id
        paths[pk] = " / ".join(reversed(names))
    return paths


def category_descendant_ids(*, category_id: int) -> set[int]:
    """``category_id`` and every category below it, from one query."""
    children: dict[int | None, list[int]] = {}
    for pk, _name, parent_id in _category_rows():
        children.setdefault(parent_id, []).append(pk)
    found, stack = {category_id}, [category_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _category_rows() -> list[tuple[int, str, int | None]]:
    return list(Category.objects.values_list("id", "name", "parent_id"))


def category_list() -> QuerySet[Category]:
    return Category.objects.order_by("name", "id")


def product_list(*, user) -> QuerySet[Product]:
    """Staff who may view products see every product; everyone else the active ones only."""
    products = Product.objects.select_related("category").prefetch_related("images")
    if not user_is_staff_with(user=user, permission="store.view_product"):
        products = products.filter(is_active=True)
    return products.order_by("name", "id")


def customer_list(*, user) -> QuerySet[Customer]:
    """Staff who may view customers see all of them; a logged-in customer only their own row."""
    customers = Customer.objects.order_by("id")
    if user_is_staff_with(user=user, permission="store.view_customer"):
        return customers
    if user is None or not user.is_authenticated:
        return customers.none()
    return customers.filter(user=user)


def order_list(*, user) -> QuerySet[Order]:
    """Staff who may view orders see all of them; a logged-in customer only their own.

    Scoping the queryset (rather than checking each object) is what turns a guessed id of
    someone else's order into a 404 instead of a 403 that would confirm the order exists.
    """
    orders = Order.objects.select_related("customer").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.select_related("product").order_by("id"))
    )
    if user_is_staff_with(user=user, permission="store.view_order"):
        return orders.order_by("-placed_at", "-id")
    if user is None or not user.is_authenticated:
        return orders.none()
    return orders.filter(customer__user=user).order_by("-placed_at", "-id")
