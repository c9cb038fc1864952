"""Training the recommender on the demo shop through the registry."""

import io
from datetime import date

import pytest
from django.core.management import call_command

from recommendations import experiments, selectors
from recommendations.models import CustomerRecommendation, RecommenderEvaluation, SimilarProduct
from shopops.registry.models import ModelVersion
from shopops.registry.services import model_training_run_now, model_version_artifact_verify
from shopops.store.demo import demo_shop_generate
from shopops.store.models import OrderItem
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_shop():
    demo_shop_generate(
        seed=3,
        end_date=date(2026, 1, 31),
        months=12,
        customers=300,
        products_per_category=4,
        with_images=False,
    )


def test_training_on_the_demo_shop_records_version_evaluations_and_precomputed_rows(demo_shop):
    # given: a product nobody has bought or viewed yet
    new_product = ProductFactory(name="Brand new product")

    # when
    version = model_training_run_now(kind="recommender")

    # then: promoted (the first version), its artifact verifies
    assert version.status == ModelVersion.Status.ACTIVE, version.error
    assert model_version_artifact_verify(version=version).joinpath("hybrid").is_dir()
    names = set(
        RecommenderEvaluation.objects.filter(model_version=version).values_list(
            "recommender", flat=True
        )
    )
    assert names == {"popularity", "item-knn", "als", "ease", "content", "hybrid"}
    n_customers = version.metrics["n_customers"]
    assert (
        CustomerRecommendation.objects.filter(model_version=version).count()
        == (version.metrics["n_recommendations"])
    )
    assert (
        CustomerRecommendation.objects.filter(model_version=version)
        .values("customer_id")
        .distinct()
        .count()
        == n_customers
    )
    assert (
        SimilarProduct.objects.filter(model_version=version).count()
        == (version.metrics["n_similar_products"])
    )
    assert version.metrics["n_similar_products"] > 0
    assert set(
        SimilarProduct.objects.filter(model_version=version, product=new_product).values_list(
            "source", flat=True
        )
    ) == {SimilarProduct.Source.CONTENT}
    # and a trained customer is served ten explained products, none they bought
    customer_id = (
        CustomerRecommendation.objects.filter(model_version=version)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .first()
    )
    items = selectors.customer_recommendations_list(customer_id=customer_id, limit=10)
    assert len(items) == 10
    assert items[0]["reason"].startswith("because you bought ")
    bought = set(
        OrderItem.objects.filter(order__customer_id=customer_id).values_list(
            "product_id", flat=True
        )
    )
    assert not bought & {item["product_id"] for item in items}


def test_the_hybrid_beats_popularity_on_validation(demo_shop):
    version = model_training_run_now(kind="recommender")

    rows = dict(
        RecommenderEvaluation.objects.filter(model_version=version).values_list(
            "recommender", "ndcg"
        )
    )
    assert rows["hybrid"] > rows["popularity"] + 0.1
    # the blend search starts from the best single recommender, so it never serves worse
    assert rows["hybrid"] >= max(score for name, score in rows.items() if name != "hybrid")
    assert version.metrics["ndcg_at_10"] == pytest.approx(rows["hybrid"])


def test_too_little_data_fails_the_version_with_a_readable_reason():
    # given: three customers' orders
    product = ProductFactory()
    for _ in range(3):
        OrderItemFactory(order=OrderFactory(customer=CustomerFactory()), product=product)

    version = model_training_run_now(kind="recommender")

    assert version.status == ModelVersion.Status.FAILED
    assert version.error.startswith("Too little data to train recommenders: 3 customers")


def test_evaluate_recommenders_prints_the_table_for_a_movielens_file(tmp_path):
    # given: 60 users in three taste groups of 10 items each, rated over time
    lines = ["userId,movieId,rating,timestamp"]
    for user in range(60):
        group = user % 3
        for step in range(8):
            item = group * 10 + (user + step) % 10
            lines.append(f"{user},{item},4,{1_000_000 + user * 10 + step * 1000}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    out = io.StringIO()

    # when
    call_command(
        "evaluate_recommenders",
        "--from-file",
        str(path),
        "--format",
        "movielens",
        "--split",
        "random",
        "--test-fraction",
        "0.25",
        "--k",
        "5",
        stdout=out,
    )

    # then
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("ratings.csv (movielens): 480 rows, 60 users, 30 items; random")
    assert lines[1].split() == [
        "recommender",
        "prec@5",
        "recall@5",
        "ndcg@5",
        "map@5",
        "hit@5",
        "coverage",
        "fit",
        "s",
    ]
    assert [line.split()[0] for line in lines[2:]] == [
        "popularity",
        "item-knn",
        "als",
        "content",
        "ease",
        "hybrid",
    ]
    ndcg = {line.split()[0]: float(line.split()[3]) for line in lines[2:]}
    assert ndcg["item-knn"] > ndcg["popularity"]


def test_evaluate_recommenders_on_the_shop(demo_shop):
    out = io.StringIO()

    call_command("evaluate_recommenders", "--k", "10", stdout=out)

    assert out.getvalue().startswith("the shop's orders and events: ")
    assert "hybrid" in out.getvalue()


def test_training_records_every_recommender_on_validation_and_on_the_later_test_period(
    demo_shop,
):
    version = model_training_run_now(kind="recommender")

    rows = {
        (row.split, row.recommender): row
        for row in RecommenderEvaluation.objects.filter(model_version=version)
    }
    names = {"popularity", "item-knn", "als", "ease", "content", "hybrid"}
    assert set(rows) == {(split, name) for split in ("validation", "test") for name in names}
    test_hybrid = rows[("test", "hybrid")]
    assert version.metrics["test_ndcg_at_10"] == pytest.approx(test_hybrid.ndcg)
    assert version.metrics["test_users"] == test_hybrid.users > 0
    # the blend chosen on validation also ranks better than popularity on the test period
    assert test_hybrid.ndcg > rows[("test", "popularity")].ndcg + 0.05


def test_training_precomputes_the_lists_a_draft_experiment_names(
    demo_shop, django_capture_on_commit_callbacks
):
    # given: a draft testing EASE and a blend against the hybrid
    draft = experiments.experiment_create(
        name="ease-vs-blend",
        variants=[
            {"name": "A", "recommender": "hybrid"},
            {"name": "B", "recommender": "ease"},
            {"name": "C", "blend": {"item-knn": 1, "popularity": 1}},
        ],
    )
    blend = "blend:item-knn=0.5,popularity=0.5"
    assert experiments.experiment_recommender_keys() == {"ease", blend}

    # when
    version = model_training_run_now(kind="recommender")

    # then: each list is there for every trained customer, and they differ
    assert version.metrics["precomputed_lists"] == [blend, "ease", "hybrid"]
    n_customers = version.metrics["n_customers"]
    rows = CustomerRecommendation.objects.filter(model_version=version)
    for key in ("hybrid", "ease", blend):
        assert rows.filter(recommender=key).values("customer_id").distinct().count() == (
            n_customers
        )
    assert rows.count() == version.metrics["n_recommendations"]
    customer_id = rows.order_by("customer_id").values_list("customer_id", flat=True).first()
    firsts = {
        key: list(
            rows.filter(recommender=key, customer_id=customer_id)
            .order_by("rank")
            .values_list("product_id", flat=True)
        )
        for key in ("hybrid", "ease", blend)
    }
    assert firsts["ease"] != firsts[blend]
    # and the draft can start: the served model has its lists
    with django_capture_on_commit_callbacks(execute=True):
        assert experiments.experiment_start(experiment_id=draft.id).is_active
