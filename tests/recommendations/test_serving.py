"""Serving: precomputed lists, read-time exclusions, reasons, cold start and the cache."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import transaction

from mining.engine.association import Rule
from mining.models import CustomerSegment, Segment
from mining.services import rules as rules_services
from recommendations import selectors
from recommendations.models import CustomerRecommendation, SimilarProduct
from shopops.registry.models import ModelVersion
from shopops.registry.services import model_version_promote, model_version_rollback
from shopops.store import services as store_services
from shopops.store.models import Order
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _version(number: int, status: str = ModelVersion.Status.READY) -> ModelVersion:
    return ModelVersion.objects.create(kind="recommender", version=number, status=status)


def _recommend(version, customer, products, because=None):
    CustomerRecommendation.objects.bulk_create(
        CustomerRecommendation(
            model_version=version,
            customer=customer,
            rank=rank,
            product=product,
            score=1.0 / rank,
            reason_product=because,
        )
        for rank, product in enumerate(products, start=1)
    )


def _buy(customer, *products):
    order = OrderFactory(customer=customer)
    for product in products:
        OrderItemFactory(order=order, product=product)


def test_bought_out_of_stock_and_inactive_products_are_never_served():
    # given: precomputed rows naming a bought, an out-of-stock and an inactive product
    customer = CustomerFactory()
    bought = ProductFactory(name="Wool scarf")
    out_of_stock = ProductFactory(stock=0)
    inactive = ProductFactory(is_active=False)
    wanted = ProductFactory(name="Wool hat")
    _buy(customer, bought)
    _recommend(
        _version(1, ModelVersion.Status.ACTIVE),
        customer,
        [bought, out_of_stock, inactive, wanted],
        because=bought,
    )

    # when
    items = selectors.customer_recommendations_list(customer_id=customer.id, limit=3)

    # then: the one servable row, explained by the bought product; nothing else exists to fill
    assert [(item["product_id"], item["reason"]) for item in items] == [
        (wanted.id, "because you bought Wool scarf")
    ]
    assert items[0]["score"] == pytest.approx(0.25)
    assert items[0]["reason_code"] == "bought"


def test_already_bought_products_are_served_when_asked():
    customer = CustomerFactory()
    bought = ProductFactory()
    _buy(customer, bought)
    _recommend(_version(1, ModelVersion.Status.ACTIVE), customer, [bought])

    items = selectors.customer_recommendations_list(
        customer_id=customer.id, limit=1, exclude_bought=False
    )

    assert [item["product_id"] for item in items] == [bought.id]
    assert items[0]["reason"] == "popular in the shop"


def test_a_new_customer_gets_what_their_segment_buys_then_the_shop_best_sellers():
    # given: an active segmentation; the new customer's segment buys the kettle, others the mug
    kettle, mug, toaster = ProductFactory(), ProductFactory(), ProductFactory()
    segmentation = ModelVersion.objects.create(
        kind="segmentation", version=1, status=ModelVersion.Status.ACTIVE
    )
    segment = Segment.objects.create(
        model_version=segmentation,
        key=0,
        name="Loyal",
        size=2,
        customer_share=0.5,
        revenue=Decimal(10),
        revenue_share=0.5,
    )
    new, peer = CustomerFactory(), CustomerFactory()
    for member in (new, peer):
        CustomerSegment.objects.create(
            customer=member,
            segment=segment,
            model_version=segmentation,
            recency_days=1.0,
            frequency=1,
            monetary=Decimal(1),
            r_score=5,
            f_score=1,
            m_score=1,
            x=0.0,
            y=0.0,
        )
    _buy(peer, kettle)
    for _ in range(3):
        _buy(CustomerFactory(), mug)
    _buy(CustomerFactory(), toaster)
    _version(1, ModelVersion.Status.ACTIVE)  # a recommender with no rows for this customer

    items = selectors.customer_recommendations_list(customer_id=new.id, limit=3)

    assert [(item["product_id"], item["reason"], item["score"]) for item in items] == [
        (kettle.id, "popular with customers like you", 1.0),
        (mug.id, "popular in the shop", 3.0),
        (toaster.id, "popular in the shop", 1.0),
    ]


def test_a_new_product_gets_products_with_a_similar_text():
    red = ProductFactory(name="Red wool scarf", description="Warm knitted scarf")
    blue = ProductFactory(name="Blue wool scarf", description="Warm knitted scarf")
    ProductFactory(name="Steel kettle", description="Boils water fast")
    ProductFactory(name="Grey wool scarf", description="Knitted", is_active=False)

    items = selectors.similar_products_list(product_id=red.id, limit=5)

    assert [item["product_id"] for item in items][:1] == [blue.id]
    assert items[0]["reason"] == "similar to Red wool scarf"
    assert items[0]["score"] > 0.5


def test_precomputed_similar_products_are_served_in_rank_order():
    version = _version(1, ModelVersion.Status.ACTIVE)
    source, first, second = ProductFactory(name="Mug"), ProductFactory(), ProductFactory()
    for rank, (other, score) in enumerate(((first, 0.9), (second, 0.4)), start=1):
        SimilarProduct.objects.create(
            model_version=version,
            product=source,
            rank=rank,
            similar_product=other,
            score=score,
            source=SimilarProduct.Source.COLLABORATIVE,
        )

    items = selectors.similar_products_list(product_id=source.id)

    assert [(item["product_id"], item["score"]) for item in items] == [
        (first.id, 0.9),
        (second.id, 0.4),
    ]
    assert {item["reason"] for item in items} == {"similar to Mug"}


def _served(customer) -> list[int]:
    return [
        item["product_id"]
        for item in selectors.customer_recommendations_list(customer_id=customer.id, limit=1)
    ]


def test_promotion_and_rollback_change_what_is_served_without_clearing_the_cache(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    # given: version 1 is served, and its list is cached (a second read runs no query)
    customer = CustomerFactory()
    old, new = ProductFactory(), ProductFactory()
    first, second = _version(1), _version(2)
    _recommend(first, customer, [old])
    _recommend(second, customer, [new])
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=first.id)
    assert _served(customer) == [old.id]
    with django_assert_num_queries(0):
        assert _served(customer) == [old.id]

    # when: version 2 is promoted (nothing clears the cache by hand)
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=second.id)

    # then: its list is served at once
    assert _served(customer) == [new.id]

    # and a rollback serves version 1's list again
    with django_capture_on_commit_callbacks(execute=True):
        model_version_rollback(kind="recommender")
    assert _served(customer) == [old.id]


def test_a_promotion_that_rolls_back_changes_nothing_served(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    old, new = ProductFactory(), ProductFactory()
    first, second = _version(1), _version(2)
    _recommend(first, customer, [old])
    _recommend(second, customer, [new])
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=first.id)
    assert _served(customer) == [old.id]

    def promote_then_fail() -> None:
        with transaction.atomic():
            model_version_promote(version_id=second.id)
            raise RuntimeError("the surrounding work failed")

    # when: version 2's promotion is inside a transaction that fails
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        promote_then_fail()

    # then: no refresh ran and version 1 is still served
    assert callbacks == []
    assert _served(customer) == [old.id]


def test_segment_popular_and_frequently_bought_together_are_cached_per_active_version(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    # given: the mug is bought with the teapot (rules v1), and by two customers
    mug, teapot, caddy = (
        ProductFactory(name="Mug"),
        ProductFactory(name="Teapot"),
        ProductFactory(name="Caddy"),
    )
    customer = CustomerFactory()
    _buy(CustomerFactory(), mug, teapot)
    _buy(CustomerFactory(), mug)
    first = ModelVersion.objects.create(kind="rules", version=1, status=ModelVersion.Status.READY)
    second = ModelVersion.objects.create(kind="rules", version=2, status=ModelVersion.Status.READY)
    for version, consequent in ((first, teapot), (second, caddy)):
        rules_services.rules_store(
            version=version,
            rules=[
                Rule(
                    antecedent=(mug.id,),
                    consequent=consequent.id,
                    support=0.5,
                    confidence=0.5,
                    lift=2.0,
                    leverage=0.1,
                    conviction=2.0,
                    antecedent_count=2,
                    consequent_count=1,
                    rule_count=1,
                    n_baskets=2,
                )
            ],
        )
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=first.id)

    def together() -> list[tuple[int, str]]:
        return [
            (item["product_id"], item["reason"])
            for item in selectors.frequently_bought_together_list(product_id=mug.id)
        ]

    popular = selectors.segment_popular_list(customer_id=customer.id, limit=2)
    assert together() == [(teapot.id, "often bought with Mug")]

    # when read again: from the cache, no query
    with django_assert_num_queries(0):
        assert selectors.segment_popular_list(customer_id=customer.id, limit=2) == popular
        assert together() == [(teapot.id, "often bought with Mug")]
    assert [(item["product_id"], item["score"]) for item in popular] == [
        (mug.id, 2.0),
        (teapot.id, 1.0),
    ]

    # then: promoting rules v2 changes "bought together" at once
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=second.id)
    assert together() == [(caddy.id, "often bought with Mug")]


def test_frequently_bought_together_is_empty_without_a_rules_model():
    assert selectors.frequently_bought_together_list(product_id=ProductFactory().id) == []


def test_interaction_rows_net_returns_and_weight_events():
    # given: a purchase, its return, and another customer's purchase
    customer, other = CustomerFactory(), CustomerFactory()
    product = ProductFactory()
    _buy(customer, product)
    returned = OrderFactory(customer=customer, status="returned")
    OrderItemFactory(order=returned, product=product)
    _buy(other, product)

    data = selectors.interaction_data_get()

    assert list(data.customer_ids) == sorted([customer.id, other.id])
    assert int(data.rows.is_return.sum()) == 1
    assert list(data.product_ids) == [product.id]


def test_a_warm_served_list_is_one_cache_round_trip_and_no_query(
    django_capture_on_commit_callbacks, django_assert_num_queries, monkeypatch
):
    customer, product = CustomerFactory(), ProductFactory()
    version = _version(1)
    _recommend(version, customer, [product])
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=version.id)
    cold = selectors.customer_recommendations_served(customer_id=customer.id, limit=1)
    calls: list[str] = []
    depth = [0]  # the local-memory cache's get_many calls its get: count the outer call only

    def counted(name, method):
        def call(*args, **kwargs):
            if not depth[0]:
                calls.append(name)
            depth[0] += 1
            try:
                return method(*args, **kwargs)
            finally:
                depth[0] -= 1

        return call

    for name in ("get", "get_many", "set", "add"):
        monkeypatch.setattr(cache, name, counted(name, getattr(cache, name)))

    with django_assert_num_queries(0):
        warm = selectors.customer_recommendations_served(customer_id=customer.id, limit=1)

    assert calls == ["get_many"]
    assert warm == cold
    assert [item["product_id"] for item in warm.items] == [product.id]


# --- freshness: the store's changes reach cached lists at once ----------------------------------


@pytest.fixture
def served_version(django_capture_on_commit_callbacks):
    version = _version(1)
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=version.id)
    return version


def _listed(customer, limit=3) -> list[tuple[int, str]]:
    return [
        (item["product_id"], f"{item['price']:.2f}")
        for item in selectors.customer_recommendations_list(customer_id=customer.id, limit=limit)
    ]


def test_a_purchase_leaves_the_customers_cached_list_at_once_and_a_cancel_brings_it_back(
    served_version, django_capture_on_commit_callbacks
):
    # given: a cached list of two products
    customer = CustomerFactory()
    mug, teapot = ProductFactory(price=Decimal("5.00")), ProductFactory(price=Decimal("9.00"))
    _recommend(served_version, customer, [mug, teapot])
    assert _listed(customer) == [(mug.id, "5.00"), (teapot.id, "9.00")]
    other = CustomerFactory()
    _recommend(served_version, other, [mug])
    assert _listed(other) == [(mug.id, "5.00")]

    # when: the customer buys the mug
    with django_capture_on_commit_callbacks(execute=True):
        order = store_services.order_create(
            customer=customer,
            items=[store_services.OrderLineInput(product_id=mug.id, quantity=1)],
            status=Order.Status.PAID,
        )

    # then: it leaves their list (not the other customer's) ...
    assert _listed(customer) == [(teapot.id, "9.00")]
    assert _listed(other) == [(mug.id, "5.00")]
    # ... and comes back when the order is cancelled
    with django_capture_on_commit_callbacks(execute=True):
        store_services.order_cancel(order_id=order.id)
    assert _listed(customer) == [(mug.id, "5.00"), (teapot.id, "9.00")]


def test_a_sold_out_or_repriced_product_changes_every_cached_list_at_once(
    served_version, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    mug, teapot = ProductFactory(stock=1), ProductFactory(price=Decimal("9.00"), stock=None)
    _recommend(served_version, customer, [mug, teapot])
    SimilarProduct.objects.create(
        model_version=served_version, product=teapot, rank=1, similar_product=mug, score=0.5
    )
    assert [row[0] for row in _listed(customer)] == [mug.id, teapot.id]
    assert [
        item["product_id"] for item in selectors.similar_products_list(product_id=teapot.id)
    ] == [mug.id]

    with django_capture_on_commit_callbacks(execute=True):
        store_services.product_update(product=mug, data={"stock": 0})
        store_services.product_update(product=teapot, data={"price": Decimal("7.50")})

    assert _listed(customer) == [(teapot.id, "7.50")]
    assert selectors.similar_products_list(product_id=teapot.id) == []


def test_a_change_that_rolls_back_or_shows_nothing_new_keeps_the_cached_lists(
    served_version, django_capture_on_commit_callbacks, django_assert_num_queries
):
    customer = CustomerFactory()
    mug = ProductFactory(stock=5)
    _recommend(served_version, customer, [mug])
    _listed(customer)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        store_services.product_update(product=mug, data={"stock": 4, "description": "New"})
    assert callbacks == []

    def deactivate_then_fail() -> None:
        with transaction.atomic():
            store_services.product_update(product=mug, data={"is_active": False})
            raise RuntimeError

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        deactivate_then_fail()
    assert callbacks == []

    with django_assert_num_queries(0):
        assert [row[0] for row in _listed(customer)] == [mug.id]


def test_a_list_cached_by_an_older_release_is_recomputed(served_version):
    customer, mug = CustomerFactory(), ProductFactory()
    _recommend(served_version, customer, [mug])
    key = selectors._list_key("hybrid", customer.id, 3, True)
    cache.set(key, {"version": served_version.id, "items": [{"product_id": -1}]})

    assert [row[0] for row in _listed(customer)] == [mug.id]
