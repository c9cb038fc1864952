"""Auto-categorisation: analyse new product images, and the merchant's decisions on them."""

from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from shopops.registry.models import ModelVersion
from shopops.registry.services import active_model_version
from shopops.store import services as store_services
from shopops.store.models import Category, Product, ProductImage
from vision.models import CategorySuggestion, ImageEmbedding
from vision.selectors import KIND
from vision.services.inference import (
    LoadedModel,
    analysis_compute,
    model_load,
    stored_image_decode,
)

logger = logging.getLogger(__name__)


class SuggestionError(Exception):
    """A decision that does not apply: already decided, unknown category ..."""


def _suggestions_store(
    *,
    images: list[ProductImage],
    model: LoadedModel,
    version: ModelVersion,
    labels: list,
    confidences: list[float],
) -> None:
    """For each image, write or refresh its pending suggestion when the model disagrees with
    (or fills in) the product's category confidently, and drop a pending one it no longer
    makes; a merchant's decision is never undone.

    Call inside ``transaction.atomic``: locks the batch's existing suggestions, so a decision
    being taken at the same time (which locks its row too) is either seen here or waits.
    A fixed number of queries per batch, whatever its size.
    """
    existing = {
        suggestion.image_id: suggestion
        for suggestion in CategorySuggestion.objects.select_for_update().filter(image__in=images)
    }
    category_ids = [int(label) if model.source == "shop" else None for label in labels]
    known = set(
        Category.objects.filter(pk__in={pk for pk in category_ids if pk is not None}).values_list(
            "pk", flat=True
        )
    )
    product_categories = dict(
        Product.objects.filter(pk__in={image.product_id for image in images}).values_list(
            "pk", "category_id"
        )
    )
    stale, fresh = [], []
    for image, category_id, confidence in zip(images, category_ids, confidences, strict=True):
        current = existing.get(image.pk)
        if current is not None and current.status != CategorySuggestion.Status.PENDING:
            continue
        if (
            category_id not in known
            or confidence < settings.VISION_SUGGESTION_MIN_CONFIDENCE
            # Agreeing with the product's category leaves nothing for the merchant to decide.
            or category_id == product_categories.get(image.product_id)
        ):
            # An older model's guess about this image is stale now: drop it.
            if current is not None:
                stale.append(current.pk)
            continue
        fresh.append(
            CategorySuggestion(
                image=image,
                predicted_category_id=category_id,
                confidence=float(min(max(confidence, 0.0), 1.0)),
                model_version=version,
                status=CategorySuggestion.Status.PENDING,
            )
        )
    if stale:
        CategorySuggestion.objects.filter(pk__in=stale).delete()
    CategorySuggestion.objects.bulk_create(
        fresh,
        update_conflicts=True,
        unique_fields=["image"],
        update_fields=["predicted_category", "confidence", "model_version", "status", "updated_at"],
    )


def images_analyse(*, images: list[ProductImage], version: ModelVersion) -> int:
    """Embed and categorise ``images`` with ``version``; returns how many were analysed.

    Idempotent: a second run rewrites the same embedding rows and suggestions. The writes are
    a fixed number of queries per batch (re-indexing a large shop on promotion is batches).
    """
    model = model_load(version=version)
    decoded = [(image, stored_image_decode(image.image.name)) for image in images]
    decoded = [(image, picture) for image, picture in decoded if picture is not None]
    if not decoded:
        return 0
    analysed = [image for image, _ in decoded]
    vectors, labels, confidences = analysis_compute(model, [picture for _, picture in decoded])
    with transaction.atomic():
        ImageEmbedding.objects.bulk_create(
            [
                ImageEmbedding(
                    image=image,
                    model_version=version,
                    product_id=image.product_id,
                    image_name=image.image.name,
                    vector=np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                )
                for image, vector in zip(analysed, vectors, strict=True)
            ],
            update_conflicts=True,
            unique_fields=["image", "model_version"],
            update_fields=["product", "image_name", "vector"],
        )
        _suggestions_store(
            images=analysed,
            model=model,
            version=version,
            labels=labels.tolist(),
            confidences=confidences.tolist(),
        )
    return len(decoded)


def product_image_analyse(*, image_id: int) -> CategorySuggestion | None:
    """Index a new (or replaced) product image and suggest its category with the active CNN.

    Without an active model nothing happens: the first promotion analyses every image.
    """
    version = active_model_version(kind=KIND)
    image = ProductImage.objects.select_related("product").filter(pk=image_id).first()
    if version is None or image is None:
        return None
    # A replaced file, or an image moved to another product, gets a fresh embedding row: the
    # search index's (count, newest id) stamp notices it, and the row names the right product.
    ImageEmbedding.objects.filter(image=image).filter(
        ~Q(image_name=image.image.name) | ~Q(product_id=image.product_id)
    ).delete()
    if not images_analyse(images=[image], version=version):
        logger.warning("product image %s could not be decoded; not analysed", image_id)
        return None
    return CategorySuggestion.objects.filter(image=image).first()


def _claim(suggestion_id: int) -> CategorySuggestion:
    """Lock a pending suggestion for a decision (call inside ``transaction.atomic``)."""
    suggestion = (
        CategorySuggestion.objects.select_for_update()
        .select_related("image__product")
        .filter(pk=suggestion_id)
        .first()
    )
    if suggestion is None:
        raise CategorySuggestion.DoesNotExist(f"No suggestion {suggestion_id}.")
    if suggestion.status != CategorySuggestion.Status.PENDING:
        raise SuggestionError(f"This suggestion was already {suggestion.get_status_display()}.")
    return suggestion


def _decide(suggestion: CategorySuggestion, *, status: str, user, category: Category | None):
    suggestion.status = status
    suggestion.decided_by = user if user is not None and user.is_authenticated else None
    suggestion.decided_at = timezone.now()
    suggestion.corrected_category = (
        category if status == CategorySuggestion.Status.CORRECTED else None
    )
    suggestion.save(
        update_fields=["status", "decided_by", "decided_at", "corrected_category", "updated_at"]
    )
    if category is not None:
        store_services.product_update(product=suggestion.image.product, data={"category": category})
    return suggestion


def suggestion_accept(*, suggestion_id: int, user) -> CategorySuggestion:
    """Accept: the product takes the predicted category, and the image keeps it as its label."""
    with transaction.atomic():
        suggestion = _claim(suggestion_id)
        if suggestion.predicted_category is None:
            raise SuggestionError("The predicted category no longer exists; correct it instead.")
        return _decide(
            suggestion,
            status=CategorySuggestion.Status.ACCEPTED,
            user=user,
            category=suggestion.predicted_category,
        )


def suggestion_correct(*, suggestion_id: int, category_id: int, user) -> CategorySuggestion:
    """Correct: the product takes ``category_id``; the image becomes a training example of it."""
    with transaction.atomic():
        suggestion = _claim(suggestion_id)
        category = Category.objects.filter(pk=category_id).first()
        if category is None:
            raise SuggestionError(f"There is no category {category_id}.")
        status = (
            CategorySuggestion.Status.ACCEPTED
            if category.pk == suggestion.predicted_category_id
            else CategorySuggestion.Status.CORRECTED
        )
        return _decide(suggestion, status=status, user=user, category=category)


def suggestion_dismiss(*, suggestion_id: int, user) -> CategorySuggestion:
    """Dismiss: nothing about the product changes and the suggestion is not shown again."""
    with transaction.atomic():
        suggestion = _claim(suggestion_id)
        return _decide(
            suggestion, status=CategorySuggestion.Status.DISMISSED, user=user, category=None
        )
