"""Association rules ("frequently bought together"): one row per rule of a trained version.

Rules belong to a registry ``ModelVersion`` of kind ``rules``; serving reads the active one.
The antecedent is stored twice on purpose: as a sorted JSON list of product ids (what the rule
*is*, cheap to render and export) and as :class:`RuleAntecedentItem` rows, one per product,
indexed by product, which is what makes "rules whose antecedent contains product X" an index
look-up instead of a scan over JSON on every database.
"""

from django.db import models
from django.db.models import Q

from shopops.registry.models import ModelVersion
from shopops.store.models import Product

__all__ = ["AssociationRule", "RuleAntecedentItem"]


class AssociationRule(models.Model):
    """``antecedent -> consequent`` with the engine's integer counts and measures."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="association_rules"
    )
    # Position in the engine's order (lift, confidence, support descending, then items): a
    # stable tie-breaker for every sort, so pages never overlap.
    rank = models.PositiveIntegerField()
    antecedent_ids = models.JSONField(help_text="Sorted product ids of the antecedent.")
    # Product names joined with " + " when the rules were stored: readable in lists, exports
    # and the admin without a join per antecedent item.
    antecedent_label = models.CharField(max_length=1000)
    antecedent_size = models.PositiveSmallIntegerField()
    # Cascade, not protect: a rule about a product that no longer exists means nothing, and
    # rules must never stop a merchant from deleting a product.
    consequent = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    support = models.FloatField()
    confidence = models.FloatField()
    lift = models.FloatField()
    leverage = models.FloatField()
    # Null when the confidence is 1 (conviction is infinite).
    conviction = models.FloatField(null=True, blank=True)
    antecedent_count = models.PositiveIntegerField()
    consequent_count = models.PositiveIntegerField()
    rule_count = models.PositiveIntegerField()
    n_baskets = models.PositiveIntegerField()

    class Meta:
        ordering = ["model_version", "rank"]
        indexes = [
            # The rules browser: one version's rules by lift.
            models.Index(fields=["model_version", "-lift", "rank"], name="rule_version_lift"),
            # "Which rules recommend product Y", best first.
            models.Index(
                fields=["model_version", "consequent", "-lift"], name="rule_version_consequent"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "rank"], name="rule_version_rank"),
            models.CheckConstraint(
                condition=Q(support__gte=0) & Q(support__lte=1), name="rule_support_0_1"
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="rule_confidence_0_1"
            ),
            models.CheckConstraint(condition=Q(lift__gte=0), name="rule_lift_not_negative"),
            models.CheckConstraint(
                condition=Q(antecedent_size__gte=1), name="rule_antecedent_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.antecedent_label} -> {self.consequent_id} (lift {self.lift:.2f})"


class RuleAntecedentItem(models.Model):
    """One product of a rule's antecedent; the version and size are copied from the rule so
    "rules of version V whose antecedent holds product X" reads one index."""

    rule = models.ForeignKey(
        AssociationRule, on_delete=models.CASCADE, related_name="antecedent_items"
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    antecedent_size = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["rule", "product"]
        indexes = [
            models.Index(
                fields=["model_version", "product", "antecedent_size"],
                name="ruleitem_version_product",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["rule", "product"], name="ruleitem_rule_product"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} in rule {self.rule_id}"
