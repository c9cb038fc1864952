"""The vision app's tables: category suggestions, image embeddings and the photo-search log."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from shopops.registry.models import ModelVersion
from shopops.store.models import Category, Product, ProductImage


class CategorySuggestion(models.Model):
    """The CNN's category for one product image, and what the merchant decided about it.

    Accepted and corrected suggestions are training labels for the next CNN (see
    ``selectors.training_images``): a correction teaches the model what it got wrong.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        CORRECTED = "corrected", "Corrected"
        DISMISSED = "dismissed", "Dismissed"

    image = models.OneToOneField(
        ProductImage, on_delete=models.CASCADE, related_name="category_suggestion"
    )
    predicted_category = models.ForeignKey(
        Category, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    confidence = models.FloatField()
    model_version = models.ForeignKey(
        ModelVersion, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    corrected_category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-confidence", "id"]
        indexes = [models.Index(fields=["status", "-confidence"], name="suggestion_status_conf")]
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="suggestion_confidence_0_1",
            ),
            # A correction names the right category; nothing else carries one.
            models.CheckConstraint(
                condition=Q(status="corrected", corrected_category__isnull=False)
                | ~Q(status="corrected"),
                name="suggestion_corrected_has_category",
            ),
        ]

    def __str__(self) -> str:
        return f"suggestion for image {self.image_id} ({self.status})"

    @property
    def decided_category_id(self) -> int | None:
        """The category this suggestion establishes as the image's label, if any."""
        if self.status == self.Status.ACCEPTED:
            return self.predicted_category_id
        if self.status == self.Status.CORRECTED:
            return self.corrected_category_id
        return None


class ImageEmbedding(models.Model):
    """One product image's L2-normalised CNN embedding under one model version.

    ``image_name`` is the image file the vector was computed from: when the file is replaced the
    row is recomputed. Vectors are float32 bytes (``numpy.frombuffer``), never pickles.
    """

    image = models.ForeignKey(ProductImage, on_delete=models.CASCADE, related_name="embeddings")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    image_name = models.CharField(max_length=255)
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["image", "model_version"], name="embedding_image_version"
            ),
        ]
        indexes = [models.Index(fields=["model_version", "product"], name="embedding_version_prod")]

    def __str__(self) -> str:
        return f"embedding of image {self.image_id} by model {self.model_version_id}"


class PhotoSearch(models.Model):
    """One search by photo: who searched (never the photo itself), how it ended, what came top."""

    class Channel(models.TextChoices):
        API = "api", "API"
        STOREFRONT = "storefront", "Storefront"
        DASHBOARD = "dashboard", "Dashboard tester"

    channel = models.CharField(max_length=16, choices=Channel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    result_count = models.PositiveIntegerField(default=0)
    top_product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    top_similarity = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"photo search {self.pk} ({self.channel})"
