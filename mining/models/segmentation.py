"""Customer segments of a segmentation model version, and each customer's membership.

Rows belong to one registry ``ModelVersion`` (kind "segmentation"); the pages and the API read
the active version's. A segment's ``key`` is its identity across versions: a retraining that
finds the same cluster again (matched by centroid) gives it the same key and name.
"""

from django.db import models
from django.db.models import Q

from shopops.registry.models import ModelVersion
from shopops.store.models import Customer

__all__ = ["CustomerSegment", "Segment"]


class Segment(models.Model):
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="segments"
    )
    # Stable across versions; "S3" in the pages. Noise (DBSCAN) has key 0.
    key = models.PositiveIntegerField()
    name = models.CharField(max_length=120)
    is_noise = models.BooleanField(default=False)
    size = models.PositiveIntegerField()
    customer_share = models.FloatField()
    revenue = models.DecimalField(max_digits=16, decimal_places=2)
    revenue_share = models.FloatField()
    # The cluster's RFM scores (its centroid ranked among the customers): {"r": 5, "f": 4, "m": 5}.
    rfm = models.JSONField(default=dict, blank=True)
    # {feature: mean over the members} in feature units (days, orders, money ...).
    feature_means = models.JSONField(default=dict, blank=True)
    # The centroid in feature units; the next training matches its clusters against these.
    centroid = models.JSONField(default=dict, blank=True)
    # The centroid on the version's 2-D projection, for the scatter.
    x = models.FloatField(default=0.0)
    y = models.FloatField(default=0.0)
    # Distance to the previous version's segment this one continues (null: a new segment).
    match_distance = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["model_version", "-size", "key"]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "key"], name="segment_version_key"),
            models.UniqueConstraint(fields=["model_version", "name"], name="segment_version_name"),
            models.CheckConstraint(
                condition=Q(customer_share__gte=0) & Q(customer_share__lte=1),
                name="segment_customer_share_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (S{self.key}, v{self.model_version_id})"

    @property
    def label(self) -> str:
        return f"S{self.key}"


class CustomerSegment(models.Model):
    """A customer's segment in one version, with their RFM figures and scatter position."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="segment_memberships"
    )
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    # Denormalised from the segment so "this customer in the active version" is one index probe.
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    recency_days = models.FloatField()
    frequency = models.PositiveIntegerField()
    monetary = models.DecimalField(max_digits=14, decimal_places=2)
    r_score = models.PositiveSmallIntegerField()
    f_score = models.PositiveSmallIntegerField()
    m_score = models.PositiveSmallIntegerField()
    x = models.FloatField()
    y = models.FloatField()

    class Meta:
        ordering = ["segment", "customer"]
        constraints = [
            # One segment per customer per version; its index serves the customer look-up.
            models.UniqueConstraint(
                fields=["customer", "model_version"], name="customersegment_customer_version"
            ),
        ]
        indexes = [
            # Members of a segment, in customer order (the members page and the CSV export).
            models.Index(fields=["segment", "customer"], name="customersegment_members"),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id} in segment {self.segment_id}"

    @property
    def rfm_code(self) -> str:
        return f"{self.r_score}{self.f_score}{self.m_score}"
