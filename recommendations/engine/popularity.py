"""Popularity baselines: the global best sellers, or the best sellers of the user's segment."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from scipy import sparse

from .base import Recommender

__all__ = ["PopularityRecommender"]


class PopularityRecommender(Recommender):
    """Recommend what most users interacted with.

    Parameters
    ----------
    count : {"users", "weight"}
        Score an item by the number of distinct users who interacted with it, or by the sum
        of their interaction weights.
    segment_shrinkage : float
        With ``user_segments`` given to ``fit``, a segment's item score is
        ``(segment_count + m * global_share) / (segment_size + m)`` with ``m`` this value:
        small segments lean on the global ranking (and ties break by it).
    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = (
        "item_scores_",
        "segment_scores_",
        "user_segments_",
    )

    def __init__(self, count: str = "users", segment_shrinkage: float = 10.0) -> None:
        self.count = count
        self.segment_shrinkage = segment_shrinkage

    def fit(
        self,
        interactions: sparse.csr_matrix,
        *,
        item_features: Any = None,
        user_segments: np.ndarray | None = None,
    ) -> Self:
        """Fit; ``user_segments`` (optional) gives each user's segment as an int >= 0, or
        -1 for users outside every segment (they get the global ranking)."""
        if self.count not in {"users", "weight"}:
            raise ValueError("count must be 'users' or 'weight'")
        if self.segment_shrinkage < 0:
            raise ValueError("segment_shrinkage must be >= 0")
        matrix = self._fit_interactions(interactions)
        counted = matrix if self.count == "weight" else (matrix > 0).astype(np.float64)
        n_users = matrix.shape[0]
        totals = np.asarray(counted.sum(axis=0)).ravel()
        self.item_scores_ = totals / max(n_users, 1)
        self.segment_scores_ = None
        self.user_segments_ = None
        if user_segments is not None:
            segments = np.asarray(user_segments, dtype=np.int64).ravel()
            if segments.size != n_users:
                raise ValueError("user_segments needs one entry per user")
            if segments.size and segments.min() < -1:
                raise ValueError("segments are >= 0, or -1 for none")
            n_segments = int(segments.max()) + 1 if segments.size else 0
            in_segment = segments >= 0
            membership = sparse.csr_matrix(
                (
                    np.ones(int(in_segment.sum())),
                    (segments[in_segment], np.flatnonzero(in_segment)),
                ),
                shape=(n_segments, n_users),
            )
            segment_totals = (membership @ counted).toarray()
            sizes = np.asarray(membership.sum(axis=1)).ravel()
            shrink = float(self.segment_shrinkage)
            denominator = np.maximum(sizes + shrink, 1e-12)[:, np.newaxis]
            self.segment_scores_ = (segment_totals + shrink * self.item_scores_) / denominator
            self.user_segments_ = segments
        return self

    def _score_batch(self, user_indices: np.ndarray) -> np.ndarray:
        scores = np.tile(self.item_scores_, (user_indices.size, 1))
        if self.segment_scores_ is not None:
            segments = self.user_segments_[user_indices]
            known = segments >= 0
            scores[known] = self.segment_scores_[segments[known]]
        return scores

    def _scores_with_fallback(self, users: np.ndarray) -> np.ndarray:
        # A cold user still belongs to a segment: that ranking beats the global fallback.
        return np.array(self._score_batch(users), dtype=np.float64)
