"""Training the recommender through the model registry, and what promotion does.

``recommendations_trainer()`` registers kind ``recommender``. A training reads the interaction
rows and cuts the period in three by time: train, then validation, then test (the last
``test_fraction``; validation is the last ``validation_fraction`` of what precedes it). It fits
popularity, item-kNN, ALS, EASE (catalogues up to :data:`EASE_MAX_ITEMS`) and content on train,
tunes the hybrid's blend weights on validation, and records every recommender's validation
metrics; then refits all of them (the hybrid with the tuned weights) on train + validation and
records their metrics on the untouched test period. Finally it refits the hybrid on all the
data, saves it, and precomputes each customer's top-N (with a "because you bought X" reason),
also for every recommender an A/B test names (:func:`experiments.experiment_recommender_keys`),
and each product's similar products, so serving is a lookup.

The gate compares the served hybrid's validation NDCG@10 with the active version's (the test
period is reported, never used to choose anything).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.core.cache import cache
from scipy import sparse
from sklearn.base import clone

from recommendations import experiments, selectors
from recommendations.engine import (
    ALSRecommender,
    ContentRecommender,
    EASERecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommender,
    interaction_matrix,
    tune_hybrid_weights,
)
from recommendations.engine.evaluation import evaluate, temporal_split
from recommendations.models import (
    SERVED_RECOMMENDER,
    CustomerRecommendation,
    RecommenderEvaluation,
    SimilarProduct,
)
from shopops.registry.models import ModelVersion
from shopops.registry.services import (
    ProgressCallback,
    Trainer,
    TrainingDataError,
    TrainingResult,
    metric_gate,
    model_version_training_into,
)

KIND = selectors.KIND
EASE_MAX_ITEMS = 20_000
MIN_CUSTOMERS = 20
MIN_PRODUCTS = 5
DEFAULT_PARAMS: dict[str, Any] = {
    "k": 10,
    "top_n": 20,
    "similar_n": 10,
    "validation_fraction": 0.15,
    "test_fraction": 0.15,
    "half_life_days": 180.0,
    "min_gain": 0.02,
    "random_state": 0,
}
GATE_METRIC = "ndcg_at_10"
BATCH_SIZE = 2_000


def recommender_candidates(n_items: int, random_state: int) -> dict[str, Recommender]:
    models: dict[str, Recommender] = {
        "popularity": PopularityRecommender(),
        "item-knn": ItemKNNRecommender(n_neighbours=50, similarity="cosine", shrinkage=10.0),
        "als": ALSRecommender(
            factors=32, regularization=0.1, alpha=1.0, iterations=15, random_state=random_state
        ),
        "content": ContentRecommender(),
    }
    if n_items <= EASE_MAX_ITEMS:
        # EASE holds a dense items x items matrix: beyond this it costs gigabytes.
        models["ease"] = EASERecommender(l2=200.0)
    return models


def _evaluation_rows(
    version: ModelVersion, table: list[dict[str, Any]], *, split: str, k: int
) -> list[RecommenderEvaluation]:
    return [
        RecommenderEvaluation(
            model_version=version,
            recommender=row["name"],
            split=split,
            k=k,
            precision=row["precision"],
            recall=row["recall"],
            ndcg=row["ndcg"],
            map=row["map"],
            hit_rate=row["hit_rate"],
            coverage=row["coverage"],
            fit_seconds=row["fit_seconds"],
            users=row["users"],
        )
        for row in table
    ]


def recommendations_train(
    *, params: dict[str, Any], artifact_dir: Path, progress: ProgressCallback
) -> TrainingResult:
    """The ``recommender`` kind's training (see the module docstring); called by the registry."""
    version = model_version_training_into(kind=KIND, artifact_dir=artifact_dir)
    settings = {**DEFAULT_PARAMS, **params}
    k = int(settings["k"])
    progress(0.05, "reading interactions")
    data = selectors.interaction_data_get()
    n_users, n_items = len(data.customer_ids), len(data.product_ids)
    if n_users < MIN_CUSTOMERS or n_items < MIN_PRODUCTS:
        raise TrainingDataError(
            f"Too little data to train recommenders: {n_users} customers with interactions "
            f"(at least {MIN_CUSTOMERS}) and {n_items} products (at least {MIN_PRODUCTS})."
        )
    shape = {"n_users": n_users, "n_items": n_items}
    matrix_settings = {"half_life_days": settings["half_life_days"], "transform": "log1p"}
    test_split = temporal_split(data.rows, float(settings["test_fraction"]))
    validation_split = temporal_split(test_split.train, float(settings["validation_fraction"]))
    train = interaction_matrix(validation_split.train, **shape, **matrix_settings)
    validation = interaction_matrix(validation_split.test, **shape)
    features = data.product_features

    progress(0.15, "fitting and evaluating recommenders on validation")
    singles = recommender_candidates(n_items, int(settings["random_state"]))
    try:
        table = evaluate(singles, train, validation, k, item_features=features)
        tuning = tune_hybrid_weights(
            singles, validation, k=k, normalisation="zscore", min_gain=float(settings["min_gain"])
        )
    except ValueError as error:  # no validation customer with history and something new
        raise TrainingDataError(f"Cannot validate the recommenders: {error}") from error
    blend = {name: round(weight, 3) for name, weight in tuning.weights.items() if weight > 0}
    hybrid = HybridRecommender(
        [(name, clone(singles[name])) for name in blend], weights=blend, normalisation="zscore"
    )
    table += evaluate({"hybrid": hybrid}, train, validation, k, item_features=features)
    evaluations = _evaluation_rows(
        version, table, split=RecommenderEvaluation.Split.VALIDATION, k=k
    )
    by_name = {row["name"]: row for row in table}

    progress(0.35, "evaluating recommenders on the test period")
    development = interaction_matrix(test_split.train, **shape, **matrix_settings)
    test_matrix = interaction_matrix(test_split.test, **shape)
    candidates = {name: clone(model) for name, model in singles.items()}
    candidates["hybrid"] = clone(hybrid)
    try:
        test_table = evaluate(candidates, development, test_matrix, k, item_features=features)
    except ValueError:
        # Nobody in the test period has history and something new: nothing to report on it.
        test_table = []
    evaluations += _evaluation_rows(
        version, test_table, split=RecommenderEvaluation.Split.TEST, k=k
    )
    RecommenderEvaluation.objects.bulk_create(evaluations)
    test_by_name = {row["name"]: row for row in test_table}

    progress(0.5, "refitting the hybrid on all the data")
    started = time.perf_counter()
    full = interaction_matrix(data.rows, **shape, **matrix_settings)
    served = clone(hybrid).fit(full, item_features=features)
    fit_seconds = time.perf_counter() - started
    served.save(artifact_dir / "hybrid")
    np.savez(artifact_dir / "ids.npz", customer_ids=data.customer_ids, product_ids=data.product_ids)

    progress(0.6, "fitting the A/B tests' recommenders")
    lists: dict[str, Recommender] = {SERVED_RECOMMENDER: served}
    fitted = dict(served.recommenders_)
    for key in sorted(experiments.experiment_recommender_keys()):
        model = _variant_model(key, singles, fitted, full, features)
        if model is not None:
            lists[key] = model

    progress(0.7, "precomputing recommendations")
    similarity = _explaining_similarity(full)
    n_recommendations = sum(
        _customer_recommendations_write(
            version,
            model,
            full,
            similarity,
            data.customer_ids,
            data.product_ids,
            int(settings["top_n"]),
            recommender=key,
        )
        for key, model in lists.items()
    )
    progress(0.85, "precomputing similar products")
    n_similar = _similar_products_write(
        version, served, full, data.product_ids, features, int(settings["similar_n"])
    )
    metrics: dict[str, Any] = {
        GATE_METRIC: by_name["hybrid"]["ndcg"],
        f"precision_at_{k}": by_name["hybrid"]["precision"],
        f"recall_at_{k}": by_name["hybrid"]["recall"],
        "validation_users": by_name["hybrid"]["users"],
        "ndcg_by_recommender": {row["name"]: row["ndcg"] for row in table},
        "hybrid_weights": blend,
        "n_customers": n_users,
        "n_products": n_items,
        "n_interactions": int(full.nnz),
        "n_recommendations": n_recommendations,
        "precomputed_lists": sorted(lists),
        "n_similar_products": n_similar,
        "fit_seconds": fit_seconds,
    }
    if "hybrid" in test_by_name:
        metrics[f"test_ndcg_at_{k}"] = test_by_name["hybrid"]["ndcg"]
        metrics["test_users"] = test_by_name["hybrid"]["users"]
    if f"ndcg_at_{k}" != GATE_METRIC:
        metrics[f"ndcg_at_{k}"] = by_name["hybrid"]["ndcg"]
    times = data.rows.timestamps
    return TrainingResult(
        metrics=metrics,
        data_window_start=datetime.fromtimestamp(float(times.min()), tz=UTC),
        data_window_end=datetime.fromtimestamp(float(times.max()), tz=UTC),
        params={**settings, "hybrid_weights": blend},
    )


def _variant_model(
    key: str,
    singles: dict[str, Recommender],
    fitted: dict[str, Recommender],
    matrix: sparse.csr_matrix,
    features: list[dict[str, str]],
) -> Recommender | None:
    """The model an A/B test's list ``key`` names, fitted on ``matrix`` (reusing ``fitted``
    members, and adding to it); None for a recommender this catalogue does not fit (EASE
    beyond :data:`EASE_MAX_ITEMS`): that experiment cannot start until it has lists."""

    def single(name: str) -> Recommender | None:
        if name not in fitted and name in singles:
            fitted[name] = clone(singles[name]).fit(matrix, item_features=features)
        return fitted.get(name)

    if not key.startswith("blend:"):
        return single(key)
    weights = {
        name: float(weight)
        for name, weight in (part.split("=", 1) for part in key.removeprefix("blend:").split(","))
    }
    members = [(name, single(name)) for name in weights]
    if any(member is None for _name, member in members):
        return None
    return HybridRecommender.from_fitted(members, weights=weights, normalisation="zscore")


def _explaining_items(
    similarity: sparse.csr_matrix, seen: np.ndarray, recommended: np.ndarray
) -> np.ndarray:
    """For each recommended item, the seen item most similar to it (-1 when none is)."""
    if seen.size == 0 or recommended.size == 0:
        return np.full(recommended.size, -1)
    block = similarity[seen][:, recommended].toarray()
    best = block.argmax(axis=0)
    return np.where(block.max(axis=0) > 0, seen[best], -1)


def _explaining_similarity(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Item-item cosine of the interaction columns: what explains "because you bought X"."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0))).ravel()
    scaled = matrix @ sparse.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0))
    return sparse.csr_matrix(scaled.T @ scaled)


def _customer_recommendations_write(
    version: ModelVersion,
    model: Recommender,
    matrix: sparse.csr_matrix,
    similarity: sparse.csr_matrix,
    customer_ids: np.ndarray,
    product_ids: np.ndarray,
    top_n: int,
    *,
    recommender: str,
) -> int:
    written = 0
    users = np.arange(matrix.shape[0])
    for start in range(0, users.size, BATCH_SIZE):
        block = users[start : start + BATCH_SIZE]
        indices, scores = model.recommend_batch(block, top_n)
        rows = []
        for position, user in enumerate(block):
            keep = indices[position] >= 0
            recommended, values = indices[position][keep], scores[position][keep]
            seen = matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]
            explaining = _explaining_items(similarity, seen, recommended)
            for rank, (item, score, because) in enumerate(
                zip(recommended, values, explaining, strict=True), start=1
            ):
                rows.append(
                    CustomerRecommendation(
                        model_version=version,
                        recommender=recommender,
                        customer_id=int(customer_ids[user]),
                        rank=rank,
                        product_id=int(product_ids[item]),
                        score=float(score),
                        reason=(
                            CustomerRecommendation.Reason.BOUGHT
                            if because >= 0
                            else CustomerRecommendation.Reason.POPULAR
                        ),
                        reason_product_id=int(product_ids[because]) if because >= 0 else None,
                    )
                )
        CustomerRecommendation.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        written += len(rows)
    return written


def _similar_products_write(
    version: ModelVersion,
    model: Recommender,
    matrix: sparse.csr_matrix,
    product_ids: np.ndarray,
    features: list[dict[str, str]],
    similar_n: int,
) -> int:
    """Each product's neighbours by the hybrid (products nobody interacted with: by text)."""
    has_interactions = np.diff(sparse.csc_matrix(matrix).indptr) > 0
    content: ContentRecommender | None = None
    rows = []
    for item in range(matrix.shape[1]):
        if has_interactions[item]:
            indices, scores = model.similar_items(item, similar_n)
            source = SimilarProduct.Source.COLLABORATIVE
        else:
            if content is None:
                content = _content_model(model, matrix, features)
            indices, scores = content.similar_items(item, similar_n)
            source = SimilarProduct.Source.CONTENT
        rows.extend(
            SimilarProduct(
                model_version=version,
                product_id=int(product_ids[item]),
                rank=rank,
                similar_product_id=int(product_ids[other]),
                score=float(score),
                source=source,
            )
            for rank, (other, score) in enumerate(zip(indices, scores, strict=True), start=1)
            if np.isfinite(score)
        )
    SimilarProduct.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    return len(rows)


def _content_model(
    model: Recommender, matrix: sparse.csr_matrix, features: list[dict[str, str]]
) -> ContentRecommender:
    for _name, member in getattr(model, "recommenders_", []):
        if isinstance(member, ContentRecommender):
            return member
    return ContentRecommender().fit(matrix, item_features=features)


def recommendations_trainer() -> Trainer:
    return Trainer(
        kind=KIND,
        train=recommendations_train,
        gate=metric_gate(GATE_METRIC, tolerance=0.005),
        default_params=dict(DEFAULT_PARAMS),
        title="Recommendations",
    )


# --- serving freshness: store hooks ----------------------------------------------------------
# A new random stamp makes every cached list computed under the old one unservable (see
# selectors._serving_read). Stamps live as long as a list does: a list computed under a stamp
# expires no later than that stamp; one computed before a stamp existed expires before the
# stamp does, so an expired stamp can never make an old list current again.


def catalogue_stamp_renew(*, product_id: int) -> None:
    """Store hook, after commit: ``product_id``'s listing changed (price, name, stock,
    activity), so every cached list is recomputed on its next read."""
    cache.set(selectors.CATALOGUE_STAMP_KEY, secrets.token_hex(8), selectors.CACHE_SECONDS)


def customer_stamp_renew(*, customer_id: int) -> None:
    """Store hook, after commit: the customer's orders changed, so their cached lists (which
    leave out what they bought) are recomputed on their next read."""
    cache.set(
        selectors.customer_stamp_key(customer_id), secrets.token_hex(8), selectors.CACHE_SECONDS
    )
