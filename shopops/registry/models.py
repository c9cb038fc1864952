"""Trained-model versions: one table for every kind (segmentation, rules, als, intent, cnn ...)."""

from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        ACTIVE = "active", "Active"

    kind = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    data_window_start = models.DateTimeField(null=True, blank=True)
    data_window_end = models.DateTimeField(null=True, blank=True)
    code_version = models.CharField(max_length=64, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)
    artifact_path = models.CharField(max_length=500, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    progress = models.FloatField(default=0.0)
    progress_message = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    gate_passed = models.BooleanField(null=True, blank=True)
    gate_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    # Touched on every progress update; a training that stops heartbeating is stale.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="modelversion_kind_version"),
            # At most one active version per kind ...
            models.UniqueConstraint(
                fields=["kind"], condition=Q(status="active"), name="modelversion_one_active"
            ),
            # ... and at most one training of a kind at a time: this row IS the per-kind lock.
            models.UniqueConstraint(
                fields=["kind"], condition=Q(status="training"), name="modelversion_one_training"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="modelversion_progress_0_1"
            ),
        ]
        indexes = [models.Index(fields=["kind", "status"], name="modelversion_kind_status")]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
