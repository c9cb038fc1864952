"""Churn scores: each current customer's churn probability under one churn model version.

Rows belong to one registry ``ModelVersion`` (kind "churn") and are written once by its training;
the pages and the API read the active version's, ranked by ``rank`` (1 = the most value at risk).
Keeping every version's rows makes a rollback show that version's own scores.
"""

from django.db import models
from django.db.models import Q

from shopops.registry.models import ModelVersion
from shopops.store.models import Customer

__all__ = ["ChurnScore"]


class ChurnScore(models.Model):
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="churn_scores"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="churn_scores")
    # Probability that the customer places no order in the model's horizon (90 days by default).
    probability = models.FloatField()
    # Net spend over the last year: what the shop loses in a year if the customer goes.
    value = models.DecimalField(max_digits=14, decimal_places=2)
    # value x probability: the expected yearly revenue at risk; ``rank`` orders by it.
    risk_score = models.FloatField()
    rank = models.PositiveIntegerField()
    recency_days = models.FloatField()
    frequency = models.PositiveIntegerField()
    # The features that raise this customer's probability most: [{"feature", "text", ...}].
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["model_version", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "customer"], name="churnscore_version_customer"
            ),
            models.UniqueConstraint(
                fields=["model_version", "rank"], name="churnscore_version_rank"
            ),
            models.CheckConstraint(
                condition=Q(probability__gte=0) & Q(probability__lte=1),
                name="churnscore_probability_0_1",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="churnscore_value_not_negative"),
        ]
        indexes = [
            # "This customer's score in the active version" is one probe.
            models.Index(fields=["customer", "model_version"], name="churnscore_customer_version"),
        ]

    def __str__(self) -> str:
        return f"churn {self.probability:.0%} for customer {self.customer_id} (#{self.rank})"
