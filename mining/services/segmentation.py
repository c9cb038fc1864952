"""Customer segmentation training: features -> clusters -> names and identities -> rows.

Registered with the model registry as kind "segmentation" (``mining.apps``). A training reads
the customer features, fits :class:`~mining.engine.segmentation.CustomerSegmentation`, names
each cluster from its RFM scores, matches the clusters to the active version's segments so a
segment keeps its key and name, writes an ``.npz`` artifact and the version's ``Segment`` and
``CustomerSegment`` rows. The registry then promotes the version when its silhouette is not
worse than the active one's by more than 0.02.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils.dateparse import parse_datetime

from mining.engine.segmentation import (
    CustomerSegmentation,
    centroid_rfm_scores,
    match_segments,
    project_2d,
    rfm_scores,
    rfm_segment_name,
    unique_segment_names,
)
from mining.models import CustomerSegment, Segment
from mining.selectors import segmentation as selectors
from shopops.registry.models import ModelVersion
from shopops.registry.services import (
    ProgressCallback,
    Trainer,
    TrainingDataError,
    TrainingResult,
    metric_gate,
    model_version_training_into,
)

KIND = "segmentation"
#: Fewer buying customers than this cannot make segments worth naming.
MIN_CUSTOMERS = 20
#: A new cluster continues a previous segment when their centroids are this close (in standard
#: deviations of the scaled features, Euclidean over all eight).
MATCH_MAX_DISTANCE = 1.0
NOISE_KEY = 0
NOISE_NAME = "Outliers"
ARTIFACT_FILE = "segmentation.npz"
MEMBERSHIP_BATCH = 2000

DEFAULT_PARAMS: dict[str, Any] = {
    "algorithm": "kmeans",
    "k_min": 2,
    "k_max": 10,
    "random_state": 0,
}
# The params handed to the engine as they are; the rest (as_of, min_customers,
# match_max_distance) are the service's own.
ENGINE_PARAMS = (
    "algorithm",
    "n_clusters",
    "k_min",
    "k_max",
    "knee_neighbourhood",
    "silhouette_tolerance",
    "min_cluster_fraction",
    "silhouette_sample_size",
    "eps",
    "min_samples",
    "clip",
    "n_init",
    "n_threads",
    "random_state",
)
_RFM_COLUMNS = ("recency_days", "frequency", "monetary")


def segmentation_trainer() -> Trainer:
    return Trainer(
        kind=KIND,
        train=segmentation_train,
        gate=metric_gate("silhouette", tolerance=0.02),
        default_params=dict(DEFAULT_PARAMS),
        title="Customer segments",
    )


@dataclass(frozen=True)
class _Identity:
    key: int
    name: str
    match_distance: float | None


def segmentation_train(
    *, params: dict[str, Any], artifact_dir: Path, progress: ProgressCallback
) -> TrainingResult:
    """Train one segmentation version (the registry calls this for the version in training).

    Raises :class:`TrainingDataError` (the version fails with its message, no retry) when too
    few customers have orders or the parameters cannot work.
    """
    version = _version_in_training(artifact_dir)
    progress(0.02, "building customer features")
    features = selectors.customer_feature_matrix(as_of=_as_of(params.get("as_of")))
    minimum = int(params.get("min_customers", MIN_CUSTOMERS))
    if len(features) < minimum:
        raise TrainingDataError(
            f"Segmentation needs at least {minimum} customers with orders; found {len(features)}."
        )
    previous = _previous_segments(features.feature_names)
    model = _fit(
        features.values,
        params,
        progress,
        previous_centers=_centroid_matrix(previous, features.feature_names),
    )

    progress(0.85, "naming segments")
    scaled = model.transform(features.values)
    coords, pca = project_2d(scaled, random_state=params.get("random_state", 0))
    rfm_columns = [features.feature_names.index(name) for name in _RFM_COLUMNS]
    customer_scores = rfm_scores(*(features.values[:, c] for c in rfm_columns))
    centroids = model.scaler_.inverse_transform(model.cluster_centers_)
    centroid_scores = centroid_rfm_scores(
        centroids[:, rfm_columns], features.values[:, rfm_columns]
    )
    identities = _identities(
        model=model,
        previous=previous,
        centroids=centroids,
        base_names=[rfm_segment_name(*scores) for scores in centroid_scores],
        feature_names=features.feature_names,
        max_distance=float(params.get("match_max_distance", MATCH_MAX_DISTANCE)),
    )

    progress(0.9, "writing the artifact")
    centre_coords = pca.transform(model.cluster_centers_)
    _artifact_write(
        artifact_dir / ARTIFACT_FILE,
        model=model,
        features=features,
        keys=[identity.key for identity in identities],
        coords=coords,
        pca_components=pca.components_,
        pca_mean=pca.mean_,
    )
    progress(0.93, "saving segments")
    # One transaction: a version never shows segments without their members.
    with transaction.atomic():
        segments = _segments_save(
            version=version,
            model=model,
            features=features,
            identities=identities,
            centroids=centroids,
            centroid_scores=centroid_scores,
            centre_coords=centre_coords,
        )
        _memberships_save(
            version=version,
            model=model,
            features=features,
            segments=segments,
            scores=customer_scores,
            coords=coords,
        )
    return TrainingResult(
        metrics=_metrics(model, features, identities, pca),
        data_window_start=features.first_order_at,
        data_window_end=features.as_of,
        params={"as_of": features.as_of.isoformat() if features.as_of else None},
    )


def _version_in_training(artifact_dir: Path) -> ModelVersion:
    return model_version_training_into(kind=KIND, artifact_dir=artifact_dir)


def _as_of(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise TrainingDataError(f"as_of {value!r} is not a date and time (ISO 8601).")
    return parsed


def _fit(
    values: np.ndarray,
    params: dict[str, Any],
    progress: ProgressCallback,
    *,
    previous_centers: np.ndarray | None,
) -> CustomerSegmentation:
    engine_params = {name: params[name] for name in ENGINE_PARAMS if name in params}
    engine_params["previous_centers"] = previous_centers
    if engine_params.get("algorithm", "kmeans") not in {"kmeans", "dbscan"}:
        raise TrainingDataError(
            f"Unknown segmentation algorithm {engine_params['algorithm']!r}; "
            "use 'kmeans' or 'dbscan'."
        )
    model = CustomerSegmentation(**engine_params)
    try:
        model.fit(
            values, progress=lambda fraction, message: progress(0.05 + 0.75 * fraction, message)
        )
    except ValueError as error:  # parameters that cannot work on this data (K too large ...)
        raise TrainingDataError(f"Segmentation could not run: {error}") from error
    if model.n_clusters_ < 1:
        raise TrainingDataError(
            "DBSCAN labelled every customer noise; raise eps or lower min_samples."
        )
    return model


def _identities(
    *,
    model: CustomerSegmentation,
    previous: list[Segment],
    centroids: np.ndarray,
    base_names: list[str],
    feature_names: tuple[str, ...],
    max_distance: float,
) -> list[_Identity]:
    """Key, name and match distance of each cluster.

    A cluster whose centroid is within ``max_distance`` of an active segment's (one-to-one,
    Hungarian, in this run's scaled space) continues it: same key, same name. The rest get
    fresh keys (never reused: above every key this kind has had) and RFM names that clash
    with no continued segment's.
    """
    if previous:
        match = match_segments(
            model.scaler_.transform(_centroid_matrix(previous, feature_names)),
            model.cluster_centers_,
            max_distance=max_distance,
        )
        matched = match.previous_index
        distances = match.distance
    else:
        matched = np.full(len(centroids), -1)
        distances = np.full(len(centroids), np.nan)

    identities: list[_Identity | None] = [None] * len(centroids)
    for index, previous_index in enumerate(matched.tolist()):
        if previous_index >= 0:
            segment = previous[previous_index]
            identities[index] = _Identity(segment.key, segment.name, float(distances[index]))
    fresh = [index for index, identity in enumerate(identities) if identity is None]
    reserved = [identity.name for identity in identities if identity is not None] + [NOISE_NAME]
    names = unique_segment_names(
        [base_names[index] for index in fresh],
        model.cluster_centers_[fresh],
        feature_names,
        reserved=reserved,
    )
    next_key = (
        Segment.objects.filter(model_version__kind=KIND).aggregate(top=Max("key"))["top"] or 0
    ) + 1
    for offset, (index, name) in enumerate(zip(fresh, names, strict=True)):
        identities[index] = _Identity(next_key + offset, name, None)
    return identities  # type: ignore[return-value]


def _previous_segments(feature_names: tuple[str, ...]) -> list[Segment]:
    """The active version's clusters, when their centroids cover this run's features."""
    active = selectors.active_segmentation_version()
    if active is None:
        return []
    segments = [
        segment for segment in selectors.segment_list(version=active) if not segment.is_noise
    ]
    if not all(set(feature_names) <= set(segment.centroid) for segment in segments):
        return []  # the feature set changed: nothing to compare with, every segment is new
    return segments


def _centroid_matrix(segments: list[Segment], feature_names: tuple[str, ...]) -> np.ndarray | None:
    if not segments:
        return None
    return np.array([[segment.centroid[name] for name in feature_names] for segment in segments])


def _artifact_write(
    path: Path,
    *,
    model: CustomerSegmentation,
    features: selectors.CustomerFeatures,
    keys: list[int],
    coords: np.ndarray,
    pca_components: np.ndarray,
    pca_mean: np.ndarray,
) -> None:
    """Everything needed to re-draw or re-apply the segmentation, as plain arrays
    (loadable with ``allow_pickle=False``)."""
    np.savez_compressed(
        path,
        feature_names=np.array(features.feature_names),
        **model.scaler_.to_arrays(),
        cluster_centers=model.cluster_centers_,
        segment_keys=np.array(keys, dtype=np.int64),
        k_values=model.k_values_,
        inertia_by_k=model.inertia_by_k_,
        silhouette_by_k=model.silhouette_by_k_,
        min_share_by_k=model.min_share_by_k_,
        pca_components=pca_components,
        pca_mean=pca_mean,
        customer_ids=features.customer_ids,
        labels=model.labels_,
        projection=coords,
    )


def _money(value: float) -> Decimal:
    return Decimal(str(round(float(value), 2)))


def _segments_save(
    *,
    version: ModelVersion,
    model: CustomerSegmentation,
    features: selectors.CustomerFeatures,
    identities: list[_Identity],
    centroids: np.ndarray,
    centroid_scores: np.ndarray,
    centre_coords: np.ndarray,
) -> dict[int, Segment]:
    """Write the version's segments; returns them by label (-1: DBSCAN's noise, if any).

    Call inside ``transaction.atomic`` with :func:`_memberships_save`.
    """
    names = features.feature_names
    n = len(features)
    monetary = features.column("monetary")
    total_revenue = float(monetary.sum())
    rows: dict[int, Segment] = {}
    labels = list(range(model.n_clusters_)) + ([-1] if (model.labels_ < 0).any() else [])
    for label in labels:
        members = model.labels_ == label
        revenue = float(monetary[members].sum())
        common = {
            "model_version": version,
            "size": int(members.sum()),
            "customer_share": float(members.sum() / n),
            "revenue": _money(revenue),
            "revenue_share": revenue / total_revenue if total_revenue else 0.0,
            "feature_means": {
                name: round(float(value), 4)
                for name, value in zip(names, features.values[members].mean(axis=0), strict=True)
            },
        }
        if label < 0:
            rows[label] = Segment(key=NOISE_KEY, name=NOISE_NAME, is_noise=True, **common)
            continue
        identity = identities[label]
        r, f, m = (int(score) for score in centroid_scores[label])
        rows[label] = Segment(
            key=identity.key,
            name=identity.name,
            rfm={"r": r, "f": f, "m": m},
            centroid={
                name: round(float(value), 6)
                for name, value in zip(names, centroids[label], strict=True)
            },
            x=float(centre_coords[label, 0]),
            y=float(centre_coords[label, 1]) if centre_coords.shape[1] > 1 else 0.0,
            match_distance=identity.match_distance,
            **common,
        )
    # A retried training of this version starts from nothing (memberships cascade).
    Segment.objects.filter(model_version=version).delete()
    Segment.objects.bulk_create(rows.values())
    # Read back with their ids: not every backend returns them from bulk_create.
    by_key = {segment.key: segment for segment in Segment.objects.filter(model_version=version)}
    return {label: by_key[segment.key] for label, segment in rows.items()}


def _memberships_save(
    *,
    version: ModelVersion,
    model: CustomerSegmentation,
    features: selectors.CustomerFeatures,
    segments: dict[int, Segment],
    scores: np.ndarray,
    coords: np.ndarray,
) -> None:
    """Write every customer's membership (call inside the segments' transaction)."""
    recency, frequency, monetary = (features.column(name) for name in _RFM_COLUMNS)
    segment_ids = {label: segment.id for label, segment in segments.items()}
    CustomerSegment.objects.bulk_create(
        (
            CustomerSegment(
                customer_id=customer_id,
                segment_id=segment_ids[label],
                model_version_id=version.id,
                recency_days=round(float(recency[row]), 4),
                frequency=int(frequency[row]),
                monetary=_money(monetary[row]),
                r_score=int(scores[row, 0]),
                f_score=int(scores[row, 1]),
                m_score=int(scores[row, 2]),
                x=float(coords[row, 0]),
                y=float(coords[row, 1]),
            )
            for row, (customer_id, label) in enumerate(
                zip(features.customer_ids.tolist(), model.labels_.tolist(), strict=True)
            )
        ),
        batch_size=MEMBERSHIP_BATCH,
    )


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def _metrics(
    model: CustomerSegmentation,
    features: selectors.CustomerFeatures,
    identities: list[_Identity],
    pca,
) -> dict[str, Any]:
    """Headline numbers first (the registry lists the first few), then the per-K curves."""
    metrics: dict[str, Any] = {
        "silhouette": _number(model.silhouette_),
        "k": int(model.n_clusters_),
        "n_customers": len(features),
        "davies_bouldin": _number(model.davies_bouldin_),
        "inertia": _number(model.inertia_),
        "silhouette_random_baseline": _number(model.random_silhouette_),
        "knee_k": model.knee_k_,
        "noise_share": round(model.noise_share_, 6),
        "continued_segments": sum(1 for i in identities if i.match_distance is not None),
        "warm_started": bool(model.warm_started_),
        "pca_explained_variance": round(float(pca.explained_variance_ratio_.sum()), 4),
        "algorithm": model.algorithm,
        "selection": model.selection_reason_,
        "k_curve": model.curves(),
    }
    if model.algorithm == "dbscan":
        metrics["eps"] = _number(model.eps_)
        metrics["min_samples"] = int(model.min_samples_)
    return metrics
