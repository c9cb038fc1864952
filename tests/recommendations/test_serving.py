"""Serving: precomputed lists, read-time exclusions, reasons, cold start and the cache."""

from decimal import Decimal

import pytest

from mining.models import CustomerSegment, Segment
from recommendations import selectors
from recommendations.models import CustomerRecommendation, SimilarProduct
from shopops.registry.models import ModelVersion
from shopops.registry.services import model_version_promote
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


def test_promoting_a_second_version_changes_the_served_list(django_capture_on_commit_callbacks):
    # given: version 1 is served (and cached)
    customer = CustomerFactory()
    old, new = ProductFactory(), ProductFactory()
    first, second = _version(1), _version(2)
    _recommend(first, customer, [old])
    _recommend(second, customer, [new])
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=first.id)
    assert [
        item["product_id"]
        for item in selectors.customer_recommendations_list(customer_id=customer.id, limit=1)
    ] == [old.id]
    namespace = selectors.cache_namespace()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version_id=second.id)

    # then: the promotion bumped the cache namespace and the new version's list is served
    assert selectors.cache_namespace() == namespace + 1
    assert [
        item["product_id"]
        for item in selectors.customer_recommendations_list(customer_id=customer.id, limit=1)
    ] == [new.id]


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
