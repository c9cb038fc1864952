"""The engine's ports on the database: orders only for their owner, catalogue search,
similar and cheaper products, recommendations and FAQ entries."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage

from chatbot.adapters import DbCatalog, DbFaq, DbOrders, DbRecommender
from chatbot.engine.ports import (
    ALREADY_CANCELLED,
    CANCELLED,
    NOT_CANCELLABLE,
    REASON_POPULAR,
    SearchQuery,
)
from chatbot.models import FaqEntry
from recommendations.models import SimilarProduct
from shopops.registry.models import ModelVersion
from shopops.store.models import Order, ProductImage
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders():
    alice = CustomerFactory(name="Alice", email="alice@example.com")
    bob = CustomerFactory(name="Bob", email="bob@example.com")
    mug = ProductFactory(name="Blue Mug", price=Decimal("12.00"))
    alice_paid = OrderFactory(
        external_number="DEMO100001",
        customer=alice,
        email="alice@example.com",
        status=Order.Status.PAID,
        total=Decimal("24.00"),
        item_count=1,
        placed_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    )
    OrderItemFactory(order=alice_paid, product=mug, quantity=2)
    alice_shipped = OrderFactory(
        external_number="DEMO100002",
        customer=alice,
        email="alice@example.com",
        status=Order.Status.SHIPPED,
        placed_at=datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
    )
    bob_order = OrderFactory(external_number="DEMO100003", customer=bob, email="bob@example.com")
    guest = OrderFactory(external_number="DEMO100004", customer=None, email="guest@example.com")
    return {
        "alice": alice,
        "bob": bob,
        "alice_paid": alice_paid,
        "alice_shipped": alice_shipped,
        "bob_order": bob_order,
        "guest": guest,
    }


# --- orders --------------------------------------------------------------------------------------


def test_logged_in_customer_finds_their_own_order_with_its_lines(orders):
    found = DbOrders().find(number="demo100001", customer_id=orders["alice"].id)

    assert found is not None
    assert (found.number, found.status, found.placed_at, found.total) == (
        "DEMO100001",
        "paid",
        "2026-11-20",
        "24.00",
    )
    assert list(found.items) == ["2 × Blue Mug"]


def test_logged_in_customer_never_sees_another_customers_order(orders):
    lookup = DbOrders()

    other = lookup.find(number="DEMO100003", customer_id=orders["alice"].id)
    guest_order = lookup.find(
        number="DEMO100004", customer_id=orders["alice"].id, email="guest@example.com"
    )
    missing = lookup.find(number="DEMO999999", customer_id=orders["alice"].id)

    assert other is None
    # the email is no way around the ownership check for a logged-in customer
    assert guest_order is None
    assert missing is None


@pytest.mark.parametrize(
    ("number", "email", "found"),
    [
        ("DEMO100004", "guest@example.com", True),
        ("DEMO100004", "GUEST@Example.com", True),
        ("DEMO100003", "bob@example.com", True),
        ("DEMO100004", "bob@example.com", False),
        ("DEMO100004", "", False),
        ("DEMO100003", "guest@example.com", False),
        ("DEMO999999", "guest@example.com", False),
        ("", "guest@example.com", False),
    ],
)
def test_anonymous_lookup_needs_the_number_and_the_orders_email(orders, number, email, found):
    result = DbOrders().find(number=number, customer_id=None, email=email)

    assert (result is not None) is found


def test_recent_orders_are_the_customers_own_newest_first(orders):
    recent = DbOrders().recent(customer_id=orders["alice"].id)

    assert [o.number for o in recent] == ["DEMO100002", "DEMO100001"]


def test_cancel_request_cancels_a_paid_order(orders):
    outcome = DbOrders().cancel(number="DEMO100001", customer_id=orders["alice"].id)

    assert outcome.outcome == CANCELLED
    assert outcome.order.status == "cancelled"
    orders["alice_paid"].refresh_from_db()
    assert orders["alice_paid"].status == Order.Status.CANCELLED


def test_cancel_request_twice_reports_already_cancelled(orders):
    lookup = DbOrders()
    lookup.cancel(number="DEMO100001", customer_id=orders["alice"].id)

    again = lookup.cancel(number="DEMO100001", customer_id=orders["alice"].id)

    assert again.outcome == ALREADY_CANCELLED


def test_shipped_order_is_not_cancelled(orders):
    outcome = DbOrders().cancel(number="DEMO100002", customer_id=orders["alice"].id)

    assert outcome.outcome == NOT_CANCELLABLE
    assert outcome.order.status == "shipped"
    orders["alice_shipped"].refresh_from_db()
    assert orders["alice_shipped"].status == Order.Status.SHIPPED


def test_nobody_cancels_someone_elses_order(orders):
    lookup = DbOrders()

    as_alice = lookup.cancel(number="DEMO100003", customer_id=orders["alice"].id)
    as_guest = lookup.cancel(number="DEMO100003", customer_id=None, email="alice@example.com")

    assert (as_alice, as_guest) == (None, None)
    orders["bob_order"].refresh_from_db()
    assert orders["bob_order"].status == Order.Status.PAID


# --- catalogue -----------------------------------------------------------------------------------


@pytest.fixture
def catalogue():
    home = CategoryFactory(name="Home", slug="home")
    tea = CategoryFactory(name="Tea & Coffee", slug="tea-coffee", parent=home)
    fashion = CategoryFactory(name="Scarves & Hats", slug="scarves")
    return {
        "blue": ProductFactory(
            name="Classic Blue Mug",
            price=Decimal("12.00"),
            category=tea,
            attributes={"colour": "blue", "synonyms": ["马克杯", "cup"]},
        ),
        "red": ProductFactory(name="Rustic Red Mug", price=Decimal("9.50"), category=tea, stock=0),
        "white": ProductFactory(
            name="Nordic White Mug",
            price=Decimal("7.00"),
            category=tea,
            attributes={"colour": "white"},
        ),
        "teapot": ProductFactory(name="Retro Teapot", price=Decimal("20.00"), category=tea),
        "cup": ProductFactory(name="Espresso Cup", price=Decimal("5.00"), category=tea),
        "hidden": ProductFactory(
            name="Old Mug", price=Decimal("3.00"), category=tea, is_active=False
        ),
        "scarf": ProductFactory(name="Wool Scarf", price=Decimal("25.00"), category=fashion),
    }


def test_keyword_search_puts_products_in_stock_first(catalogue, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        found = DbCatalog().search(SearchQuery(keywords=["mug"]))

    assert [p.name for p in found] == ["Classic Blue Mug", "Nordic White Mug", "Rustic Red Mug"]
    assert [p.in_stock for p in found] == [True, True, False]
    assert found[0].price == "12.00"
    assert found[0].url == f"/products/{catalogue['blue'].id}/"


def test_search_filters_by_parent_category_price_and_colour(catalogue):
    catalog = DbCatalog()

    in_home = catalog.search(SearchQuery(categories=["Home"], price_max=10, limit=10))
    white = catalog.search(SearchQuery(keywords=["mug"], colours=["white"]))
    between = catalog.search(SearchQuery(keywords=["mug"], price_min=8, price_max=10))

    assert [p.name for p in in_home] == ["Espresso Cup", "Nordic White Mug", "Rustic Red Mug"]
    assert [p.name for p in white] == ["Nordic White Mug"]
    assert [p.name for p in between] == ["Rustic Red Mug"]


def test_products_keeps_the_order_asked_and_skips_inactive(catalogue):
    ids = [catalogue["white"].id, catalogue["hidden"].id, catalogue["blue"].id]

    found = DbCatalog().products(ids)

    assert [p.name for p in found] == ["Nordic White Mug", "Classic Blue Mug"]


def test_vocabulary_holds_active_products_synonyms_and_category_aliases(catalogue):
    vocabulary = DbCatalog().vocabulary()

    names = {p.name: p.synonyms for p in vocabulary.products}
    assert names["Classic Blue Mug"] == ("马克杯", "cup")
    assert "Old Mug" not in names
    assert vocabulary.categories["Scarves & Hats"] == ("scarves", "hats")


def test_cheaper_similar_falls_back_to_the_same_category_closest_price_first(catalogue):
    cheaper = DbCatalog().cheaper_similar(catalogue["blue"].id, limit=3)

    # the red mug is out of stock and the inactive one hidden: neither is offered
    assert [(p.name, p.price) for p in cheaper] == [
        ("Nordic White Mug", "7.00"),
        ("Espresso Cup", "5.00"),
    ]


def _similar_rows(product, neighbours) -> ModelVersion:
    """An active recommender version whose collaborative neighbours of ``product`` are
    ``neighbours``, best first."""
    version = ModelVersion.objects.create(
        kind="recommender", version=1, status=ModelVersion.Status.ACTIVE
    )
    for rank, neighbour in enumerate(neighbours, start=1):
        SimilarProduct.objects.create(
            model_version=version,
            product=product,
            rank=rank,
            similar_product=neighbour,
            score=1.0 / rank,
            source=SimilarProduct.Source.COLLABORATIVE,
        )
    return version


def test_cheaper_similar_prefers_the_recommenders_similar_products(catalogue):
    _similar_rows(catalogue["blue"], [catalogue[key] for key in ("cup", "teapot", "white")])

    cheaper = DbCatalog().cheaper_similar(catalogue["blue"].id, limit=2)
    similar = DbCatalog().similar(catalogue["blue"].id, limit=3)

    # similarity order first (the teapot costs more and is skipped), not price order
    assert [p.name for p in cheaper] == ["Espresso Cup", "Nordic White Mug"]
    assert [p.name for p in similar] == ["Espresso Cup", "Retro Teapot", "Nordic White Mug"]


def test_anonymous_recommendations_are_best_sellers_with_a_reason(catalogue):
    for _ in range(3):
        OrderItemFactory(product=catalogue["scarf"])
    OrderItemFactory(product=catalogue["white"])
    catalog = DbCatalog()

    picks = DbRecommender(catalog=catalog).recommend(customer_id=None, limit=2)

    assert [(p.name, p.reason_code) for p in picks] == [
        ("Wool Scarf", REASON_POPULAR),
        ("Nordic White Mug", REASON_POPULAR),
    ]


def test_customer_recommendations_come_from_the_recommendations_app(catalogue):
    customer = CustomerFactory()
    for _ in range(2):
        OrderItemFactory(product=catalogue["teapot"])
    OrderItemFactory(order=OrderFactory(customer=customer), product=catalogue["scarf"])

    picks = DbRecommender(catalog=DbCatalog()).recommend(customer_id=customer.id, limit=1)

    # with no trained recommender: the shop's best seller the customer has not bought
    assert [(p.name, p.reason_code) for p in picks] == [("Retro Teapot", REASON_POPULAR)]


def test_faq_source_returns_only_published_entries():
    FaqEntry.objects.all().delete()
    FaqEntry.objects.create(
        topic="return_refund", question="Returns?", keywords="return, 退货", answer_en="30 days"
    )
    FaqEntry.objects.create(
        topic="return_refund", question="Hidden", answer_en="draft", is_published=False
    )

    answers = DbFaq().answers()

    assert [(a.question, tuple(a.keywords)) for a in answers] == [("Returns?", ("return", "退货"))]


# --- product images and queries per call ----------------------------------------------------------


@pytest.fixture
def pictured(catalogue):
    """The blue mug's images: an empty one first, then two in reverse id order."""
    blue = catalogue["blue"]
    ProductImage.objects.create(product=blue, image="", position=0)
    ProductImage.objects.create(product=blue, image="products/blue-back.png", position=2)
    ProductImage.objects.create(product=blue, image="products/blue-front.png", position=1)
    ProductImage.objects.create(product=catalogue["white"], image="products/white.png")
    return catalogue


def test_every_lookup_shows_a_products_first_image_by_position(pictured):
    catalog = DbCatalog()
    blue, white = pictured["blue"].id, pictured["white"].id
    front = default_storage.url("products/blue-front.png")

    by_id = catalog.products([blue, white, pictured["cup"].id])
    named = catalog.search(SearchQuery(product_ids=[blue]))
    by_keyword = catalog.search(SearchQuery(keywords=["mug"]))
    cheaper = catalog.cheaper_similar(pictured["teapot"].id)

    white_url = default_storage.url("products/white.png")
    assert [p.image_url for p in by_id] == [front, white_url, ""]
    assert [p.image_url for p in named] == [front]
    assert [(p.name, p.image_url) for p in by_keyword] == [
        ("Classic Blue Mug", front),
        ("Nordic White Mug", white_url),
        ("Rustic Red Mug", ""),
    ]
    # the same category's cheaper products (no recommender): images read apart
    assert [(p.name, p.image_url) for p in cheaper] == [
        ("Classic Blue Mug", front),
        ("Nordic White Mug", white_url),
        ("Espresso Cup", ""),
    ]


def test_products_and_a_named_search_read_rows_and_images_in_one_query(
    pictured, django_assert_num_queries
):
    catalog = DbCatalog()

    with django_assert_num_queries(1):
        catalog.products([pictured["blue"].id, pictured["white"].id])
    with django_assert_num_queries(1):
        catalog.search(SearchQuery(product_ids=[pictured["white"].id, pictured["blue"].id]))


def test_cheaper_similar_from_the_recommender_takes_two_queries(
    pictured, django_assert_num_queries
):
    _similar_rows(pictured["teapot"], [pictured["white"], pictured["cup"]])
    catalog = DbCatalog()
    catalog.cheaper_similar(pictured["teapot"].id, limit=2)  # caches the active version id

    with django_assert_num_queries(2):
        cheaper = catalog.cheaper_similar(pictured["teapot"].id, limit=2)

    assert [(p.name, p.image_url) for p in cheaper] == [
        ("Nordic White Mug", default_storage.url("products/white.png")),
        ("Espresso Cup", ""),
    ]


def test_a_customer_in_an_ab_test_is_recommended_their_variants_list(
    catalogue, django_capture_on_commit_callbacks
):
    # given: a served version whose hybrid and EASE lists differ, and a running test whose
    # variants both serve EASE
    from recommendations import experiments
    from recommendations.models import CustomerRecommendation
    from shopops.store.models import Event

    customer = CustomerFactory()
    version = ModelVersion.objects.create(
        kind="recommender", version=1, status=ModelVersion.Status.ACTIVE
    )
    for recommender, product in (("hybrid", "teapot"), ("ease", "scarf")):
        CustomerRecommendation.objects.create(
            model_version=version,
            recommender=recommender,
            customer=customer,
            rank=1,
            product=catalogue[product],
            score=1.0,
        )
    draft = experiments.experiment_create(
        name="chat-ab",
        variants=[{"name": "A", "recommender": "ease"}, {"name": "B", "recommender": "ease"}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        experiments.experiment_start(experiment_id=draft.id)

    # when
    picks = DbRecommender(catalog=DbCatalog()).recommend(customer_id=customer.id, limit=1)

    # then: EASE's pick, and no impression logged from the chat
    assert [p.name for p in picks] == ["Wool Scarf"]
    assert not Event.objects.filter(metadata__kind="impression").exists()
