"""Precomputed recommendations, so that serving is an indexed lookup, and evaluation rows."""

from __future__ import annotations

from django.db import models

from shopops.registry.models import ModelVersion
from shopops.store.models import Customer, Product

#: The recommender every customer is served outside an A/B test (the tuned blend).
SERVED_RECOMMENDER = "hybrid"


class CustomerRecommendation(models.Model):
    """One of a customer's top-N products for a recommender version (rank 1 is best).

    ``recommender`` says which list it belongs to: the served hybrid's, or one that an A/B
    test's variant serves instead (a single recommender's name such as ``"ease"``, or a blend
    such as ``"blend:ease=0.5,item-knn=0.5"``; see :mod:`recommendations.experiments`).
    """

    class Reason(models.TextChoices):
        BOUGHT = "bought", "Because you bought"
        POPULAR = "popular", "Popular"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    recommender = models.CharField(max_length=128, default=SERVED_RECOMMENDER)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.BOUGHT)
    # The customer's own product that explains the recommendation ("because you bought X").
    reason_product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["model_version", "recommender", "customer", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "recommender", "customer", "rank"],
                name="customer_rec_unique_rank",
            ),
        ]
        indexes = [
            models.Index(
                fields=["model_version", "recommender", "customer", "rank"],
                name="customer_rec_lookup",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} #{self.rank}: {self.product_id}"


class SimilarProduct(models.Model):
    """One of a product's most similar products for a recommender version."""

    class Source(models.TextChoices):
        COLLABORATIVE = "cf", "Bought by the same customers"
        CONTENT = "content", "Similar description"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    similar_product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    source = models.CharField(max_length=8, choices=Source.choices)

    class Meta:
        ordering = ["model_version", "product", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "product", "rank"], name="similar_product_unique_rank"
            ),
        ]
        indexes = [
            models.Index(fields=["model_version", "product", "rank"], name="similar_product_lookup")
        ]

    def __str__(self) -> str:
        return f"{self.product_id} ~ {self.similar_product_id} ({self.score:.3f})"


class RecommenderEvaluation(models.Model):
    """One recommender's offline metrics at k for a training run (the dashboard's table)."""

    class Split(models.TextChoices):
        VALIDATION = "validation", "Validation"
        TEST = "test", "Test"

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="recommender_evaluations"
    )
    recommender = models.CharField(max_length=32)
    split = models.CharField(max_length=16, choices=Split.choices, default=Split.VALIDATION)
    k = models.PositiveSmallIntegerField()
    precision = models.FloatField()
    recall = models.FloatField()
    ndcg = models.FloatField()
    map = models.FloatField()
    hit_rate = models.FloatField()
    coverage = models.FloatField()
    fit_seconds = models.FloatField()
    users = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["model_version", "split", "-ndcg"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "recommender", "split", "k"],
                name="recommender_evaluation_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recommender} ndcg@{self.k}={self.ndcg:.4f}"


class Experiment(models.Model):
    """An A/B test of recommendation variants; customers are split between them by a hash.

    ``variants`` is a list of objects, each with a unique ``name`` and what it serves: a
    recommender (``{"name": "A", "recommender": "hybrid"}``) or a blend of recommenders
    (``{"name": "B", "blend": {"ease": 0.5, "item-knn": 0.5}}``). At most one experiment is
    active at a time, so the serving API knows which one an impression belongs to. A draft has
    never started; a stopped one has ``stopped_at`` (and can be resumed).
    """

    name = models.SlugField(max_length=64, unique=True)
    variants = models.JSONField(default=list)
    is_active = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="experiment_one_active",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def variant_names(self) -> list[str]:
        return [str(variant["name"]) for variant in self.variants]

    @property
    def state(self) -> str:
        """``"running"``, ``"stopped"`` or ``"draft"`` (created, never started)."""
        if self.is_active:
            return "running"
        return "stopped" if self.started_at else "draft"
