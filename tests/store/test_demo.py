from collections import Counter
from datetime import UTC, date, datetime
from itertools import combinations

import pytest
from django.core.management import call_command

from shopops.store import demo
from shopops.store.models import Customer, Event, Order, OrderItem, Product, ProductImage

SMALL = {"months": 14, "customers": 150, "products_per_category": 5}


def _fingerprint() -> list[tuple]:
    return list(
        Order.objects.order_by("external_number").values_list(
            "external_number", "customer__external_id", "status", "placed_at", "total"
        )
    )


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_shop():
    demo.demo_shop_generate(seed=3, end_date=date(2026, 1, 31), **SMALL)
    first = _fingerprint()
    demo.demo_data_delete()
    assert Order.objects.count() == Product.objects.count() == Customer.objects.count() == 0

    demo.demo_shop_generate(seed=3, end_date=date(2026, 1, 31), **SMALL)

    assert _fingerprint() == first
    demo.demo_data_delete()
    demo.demo_shop_generate(seed=4, end_date=date(2026, 1, 31), **SMALL)
    assert _fingerprint() != first


@pytest.mark.django_db
def test_the_demo_shop_has_the_structure_features_learn_from():
    summary = demo.demo_shop_generate(seed=3, end_date=date(2026, 1, 31), **SMALL)

    # catalogue: 5 roots + 13 leaves, 5 products per leaf, one image each
    assert (summary.categories, summary.products, summary.images) == (18, 65, 65)
    assert ProductImage.objects.count() == 65
    assert Order.objects.filter(status=Order.Status.RETURNED).count() == summary.returns > 0
    assert Order.objects.filter(customer__isnull=True).count() >= summary.guest_orders > 0
    assert Event.objects.count() == summary.events
    # nothing is dated after the end of the history, returns included
    last_moment = datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert not Order.objects.filter(placed_at__gt=last_moment).exists()
    assert not Event.objects.filter(occurred_at__gt=last_moment).exists()
    assert set(Event.objects.values_list("event_type", flat=True)) == {"view", "cart", "search"}

    # co-purchase: the strongest pair is bought together far more often than chance
    baskets = {}
    for order_id, product_id in OrderItem.objects.exclude(
        order__status=Order.Status.RETURNED
    ).values_list("order_id", "product_id"):
        baskets.setdefault(order_id, set()).add(product_id)
    item_counts = Counter(p for basket in baskets.values() for p in basket)
    pair_counts = Counter(
        pair for basket in baskets.values() for pair in combinations(sorted(basket), 2)
    )
    (a, b), together = pair_counts.most_common(1)[0]
    lift = together * len(baskets) / (item_counts[a] * item_counts[b])
    assert lift > 3.0

    # seasonality: guest orders (a steady stream, unlike customers who join and lapse) are
    # clearly more frequent in December 2025 than in July 2025 (both 31 days)
    def guest_orders_in(month: int) -> int:
        return (
            Order.objects.filter(
                customer__isnull=True, placed_at__year=2025, placed_at__month=month
            )
            .exclude(status=Order.Status.RETURNED)
            .count()
        )

    assert guest_orders_in(12) > 1.15 * guest_orders_in(7)


@pytest.mark.django_db
def test_seed_demo_command_does_not_duplicate(capsys):
    args = ["--customers", "40", "--products-per-category", "2", "--months", "6", "--no-images"]
    call_command("seed_demo", "--end-date", "2026-01-31", *args)
    orders = Order.objects.count()

    call_command("seed_demo", "--end-date", "2026-01-31", *args)

    assert Order.objects.count() == orders
    assert "Demo data is already present" in capsys.readouterr().out


@pytest.mark.django_db
def test_demo_logins_prints_working_credentials(capsys, client):
    call_command(
        "seed_demo",
        "--customers",
        "20",
        "--products-per-category",
        "1",
        "--months",
        "3",
        "--no-images",
        "--end-date",
        "2026-01-31",
    )
    call_command("demo_logins", "--password", "a-long-demo-pass")

    out = capsys.readouterr().out
    assert "username merchant   password a-long-demo-pass" in out
    assert client.login(username="merchant", password="a-long-demo-pass")
    assert Customer.objects.get(user__username="customer").external_id.startswith("DEMO-C")
