"""Reads for the vision app: training images, suggestions, the embedding index, model runs."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from django.db.models import Count, F, Max, Q, QuerySet

from shopops.registry.models import ModelVersion
from shopops.registry.services import active_model_version_id
from shopops.store.models import Product, ProductImage
from shopops.store.selectors import category_paths
from shopops.store.storefront import price_format
from vision.engine.search import EmbeddingIndex
from vision.models import CategorySuggestion, ImageEmbedding

KIND = "cnn"
EVALUATION_FILE = "evaluation.json"
LABELS_FILE = "labels.json"


# --- training data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingImage:
    image_id: int
    name: str  # the file's name in default storage
    category_id: int


def training_images() -> list[TrainingImage]:
    """Every product image with a category label, in one query.

    The label is the merchant's decision on the image's suggestion when there is one (a
    correction names the right category, an acceptance confirms the predicted one), else the
    product's category. Images of products without a category and no decision are left out.
    """
    rows = ProductImage.objects.order_by("id").values_list(
        "id",
        "image",
        "product__category_id",
        "category_suggestion__status",
        "category_suggestion__predicted_category_id",
        "category_suggestion__corrected_category_id",
    )
    images = []
    for image_id, name, product_category, status, predicted, corrected in rows:
        if status == CategorySuggestion.Status.CORRECTED:
            label = corrected
        elif status == CategorySuggestion.Status.ACCEPTED:
            label = predicted
        else:
            label = product_category
        if label is not None and name:
            images.append(TrainingImage(image_id, name, label))
    return images


# --- suggestions ----------------------------------------------------------------------------------


def suggestion_list(
    *, status: str | None = CategorySuggestion.Status.PENDING
) -> QuerySet[CategorySuggestion]:
    """Suggestions (pending by default), the ones that would change a product's category first."""
    queryset = CategorySuggestion.objects.select_related(
        "image__product__category", "predicted_category", "corrected_category", "decided_by"
    )
    if status:
        queryset = queryset.filter(status=status)
    return queryset.annotate(
        agrees=Count("pk", filter=Q(predicted_category_id=F("image__product__category_id")))
    ).order_by("agrees", "-confidence", "id")


def suggestion_counts() -> dict[str, int]:
    rows = CategorySuggestion.objects.values_list("status").annotate(n=Count("id"))
    counts = {status: 0 for status in CategorySuggestion.Status.values}
    counts.update(dict(rows))
    return counts


# --- embeddings and the search index ------------------------------------------------------------


@dataclass(frozen=True)
class ProductMatch:
    product_id: int
    name: str
    price: Decimal
    currency: str
    price_display: str
    image_url: str
    category: str
    similarity: float


_index_lock = threading.Lock()
_index_cache: dict[int, tuple[tuple[int, int], EmbeddingIndex, dict[int, int]]] = {}


def embedding_index(*, version_id: int) -> tuple[EmbeddingIndex, dict[int, int]] | None:
    """The cosine index over the catalogue's image embeddings of one model version, and a map
    image id -> product id; None when no image is indexed.

    Built from the table and kept per process; the (row count, newest id) stamp notices added,
    replaced or deleted images (a replacement is a new row), so a stale index is rebuilt.
    """
    rows = ImageEmbedding.objects.filter(model_version_id=version_id)
    stamp_row = rows.aggregate(n=Count("id"), newest=Max("id"))
    stamp = (stamp_row["n"], stamp_row["newest"] or 0)
    if not stamp[0]:
        return None
    with _index_lock:
        cached = _index_cache.get(version_id)
        if cached and cached[0] == stamp:
            return cached[1], cached[2]
    image_ids, product_ids, vectors = [], [], []
    for image_id, product_id, vector in rows.order_by("id").values_list(
        "image_id", "product_id", "vector"
    ):
        image_ids.append(image_id)
        product_ids.append(product_id)
        vectors.append(np.frombuffer(bytes(vector), dtype=np.float32))
    index = EmbeddingIndex().add(np.asarray(image_ids, dtype=np.int64), np.stack(vectors))
    owners = dict(zip(image_ids, product_ids, strict=True))
    with _index_lock:
        _index_cache.clear()  # one version is served at a time: drop the others' memory
        _index_cache[version_id] = (stamp, index, owners)
    return index, owners


def products_matching(
    *,
    version_id: int,
    vector: np.ndarray,
    limit: int = 8,
    exclude_product_id: int | None = None,
) -> list[ProductMatch]:
    """Active products ranked by their best image's cosine similarity to ``vector``."""
    built = embedding_index(version_id=version_id)
    if built is None:
        return []
    index, owners = built
    # Several images per product and hidden products: over-fetch, then keep each product once.
    image_ids, scores = index.query(vector, k=min(len(index), limit * 5 + 10))
    best: dict[int, tuple[float, int]] = {}
    for image_id, score in zip(image_ids.tolist(), scores.tolist(), strict=True):
        product_id = owners[image_id]
        if product_id == exclude_product_id or product_id in best:
            continue
        best[product_id] = (float(score), image_id)
    products = Product.objects.filter(pk__in=best, is_active=True).only(
        "id", "name", "price", "currency", "category_id"
    )
    images = ProductImage.objects.in_bulk([image_id for _, image_id in best.values()])
    paths = category_paths()
    matches = [
        ProductMatch(
            product_id=product.pk,
            name=product.name,
            price=product.price,
            currency=product.currency,
            price_display=price_format(amount=product.price, currency=product.currency),
            image_url=images[best[product.pk][1]].image.url,
            category=paths.get(product.category_id, ""),
            similarity=round(max(-1.0, min(1.0, best[product.pk][0])), 4),
        )
        for product in products
    ]
    matches.sort(key=lambda match: (-match.similarity, match.product_id))
    return matches[:limit]


def product_similar_products(*, product_id: int, limit: int = 6) -> list[ProductMatch]:
    """Products that look like ``product_id`` (its images' mean embedding), most similar first.

    Empty when there is no active image model or the product has no indexed image. This is the
    function other apps (recommendations) call for "visually similar products".
    """
    active_id = active_model_version_id(kind=KIND)
    if active_id is None:
        return []
    vectors = [
        np.frombuffer(bytes(vector), dtype=np.float32)
        for vector in ImageEmbedding.objects.filter(
            model_version_id=active_id, product_id=product_id
        ).values_list("vector", flat=True)
    ]
    if not vectors:
        return []
    return products_matching(
        version_id=active_id,
        vector=np.mean(vectors, axis=0),
        limit=limit,
        exclude_product_id=product_id,
    )


# --- model runs -----------------------------------------------------------------------------------


def cnn_versions(*, limit: int = 20) -> list[ModelVersion]:
    return list(ModelVersion.objects.filter(kind=KIND).order_by("-version")[:limit])


def cnn_version_get(*, version_id: int) -> ModelVersion:
    return ModelVersion.objects.get(kind=KIND, id=version_id)


def cnn_evaluation(*, version: ModelVersion) -> dict[str, Any] | None:
    """The run's evaluation (curves, confusion matrix, per-class metrics) from its artifact."""
    if not version.artifact_path:
        return None
    path = Path(version.artifact_path) / EVALUATION_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def confusion_rows(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """The confusion matrix as table rows with a 0..1 shade per cell (share of the true class)."""
    rows = []
    for i, (label, counts) in enumerate(
        zip(evaluation["labels"], evaluation["confusion_matrix"], strict=True)
    ):
        total = sum(counts) or 1
        cells = [
            {"count": count, "shade": round(count / total, 3), "diagonal": i == j}
            for j, count in enumerate(counts)
        ]
        rows.append({"label": label, "cells": cells})
    return rows
