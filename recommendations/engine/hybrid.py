"""Hybrid recommender: a weighted blend of member recommenders' normalised scores.

For each user every member's score vector is normalised over the user's *candidate* items
(those not in the training row; seen items get the same affine map but do not move it):

* ``"zscore"``: ``(s - mean) / std`` (a constant vector becomes 0);
* ``"minmax"``: ``(s - min) / (max - min)``;
* ``"rank"``: reciprocal rank fusion, ``1 / (RRF_K + rank)`` with rank 1 the user's best
  candidate (Cormack et al. 2009); only the order of a member's scores counts, so a member
  with a heavy-tailed score distribution cannot dominate the blend. Tied scores share their
  group's best rank; non-candidates rank after every candidate.

The blend is ``sum_m weight_m * normalised_m``. Weights are tuned by
:func:`tune_hybrid_weights` on a *validation* matrix only: the members are fitted on the
data before the validation period, and the function is never given the test split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from scipy import sparse
from sklearn.base import clone

from .base import Recommender, _mask_seen, top_k
from .evaluation import ndcg_from_hits

__all__ = ["HybridRecommender", "HybridTuning", "normalise_scores", "tune_hybrid_weights"]

NORMALISATIONS = ("zscore", "minmax", "rank")
RRF_K = 60.0
DEFAULT_GRID = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def normalise_scores(
    scores: np.ndarray, candidates: np.ndarray | None, method: str = "zscore"
) -> np.ndarray:
    """Row-wise normalisation of ``scores`` with statistics over ``candidates`` (a boolean
    mask of the same shape; ``None`` = every entry). Returns a new float array."""
    if method not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}")
    scores = np.asarray(scores, dtype=np.float64)
    mask = np.ones(scores.shape, bool) if candidates is None else candidates
    if method == "rank":
        return _reciprocal_ranks(scores, mask)
    count = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    if method == "zscore":
        masked = np.where(mask, scores, 0.0)
        mean = masked.sum(axis=1, keepdims=True) / count
        variance = (np.where(mask, scores - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count
        scale = np.sqrt(variance)
        offset = mean
    else:
        low = np.where(mask, scores, np.inf).min(axis=1, keepdims=True)
        high = np.where(mask, scores, -np.inf).max(axis=1, keepdims=True)
        low = np.where(np.isfinite(low), low, 0.0)
        scale = np.where(np.isfinite(high), high, 0.0) - low
        offset = low
    safe = np.where(scale > 1e-12, scale, 1.0)
    return np.where(scale > 1e-12, (scores - offset) / safe, 0.0)


def _reciprocal_ranks(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # Candidates by descending score, then everything else. Tied scores share the best rank
    # of their group, so that the long tail of equal (often zero) scores adds the same amount
    # to every item in it instead of an arbitrary, index-ordered bonus.
    key = np.where(mask, -np.nan_to_num(scores, nan=-np.inf), np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    ordered = np.take_along_axis(key, order, axis=1)
    positions = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    starts = np.ones(scores.shape, bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group_rank = np.maximum.accumulate(np.where(starts, positions, 0), axis=1) + 1.0
    ranks = np.empty(scores.shape, np.float64)
    np.put_along_axis(ranks, order, group_rank, axis=1)
    return 1.0 / (RRF_K + ranks)


def _candidate_mask(seen: sparse.csr_matrix) -> np.ndarray:
    mask = np.ones(seen.shape, bool)
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    mask[rows, seen.indices] = False
    return mask


def _weight_vector(names: Sequence[str], weights: Any) -> np.ndarray:
    if weights is None:
        return np.full(len(names), 1.0 / max(len(names), 1))
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(names)
        if unknown:
            raise ValueError(f"weights for unknown members {sorted(unknown)}")
        vector = np.array([float(weights.get(name, 0.0)) for name in names])
    else:
        vector = np.asarray(weights, dtype=np.float64).ravel()
        if vector.size != len(names):
            raise ValueError("one weight per member is needed")
    if np.any(vector < 0) or not np.any(vector > 0):
        raise ValueError("weights must be >= 0 with at least one > 0")
    return vector


class HybridRecommender(Recommender):
    """Weighted blend of members' normalised scores.

    Parameters
    ----------
    recommenders : sequence of (name, Recommender)
        Members; ``fit`` fits a clone of each (scikit-learn style), kept in
        ``recommenders_``.
    weights : mapping name -> weight, sequence, or None
        Non-negative; ``None`` is equal weights. Only ratios matter.
    normalisation : {"zscore", "minmax", "rank"}

    ``similar_items`` blends the members' item similarities the same way. Artifacts hold
    each member in ``members/<position>/`` beside the hybrid's own ``model.npz``.
    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        recommenders: Sequence[tuple[str, Recommender]] = (),
        weights: Mapping[str, float] | Sequence[float] | None = None,
        normalisation: str = "zscore",
    ) -> None:
        self.recommenders = recommenders
        self.weights = weights
        self.normalisation = normalisation

    def _members(self) -> list[str]:
        names = [name for name, _ in self.recommenders]
        if not names:
            raise ValueError("a hybrid needs at least one member")
        if len(set(names)) != len(names):
            raise ValueError("member names must be unique")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}")
        return names

    def fit(self, interactions: sparse.csr_matrix, *, item_features: Any = None) -> Self:
        names = self._members()
        self.weights_ = _weight_vector(names, self.weights)
        matrix = self._fit_interactions(interactions)
        self.recommenders_ = [
            (name, clone(member).fit(matrix, item_features=item_features))
            for name, member in self.recommenders
        ]
        return self

    @classmethod
    def from_fitted(
        cls,
        recommenders: Sequence[tuple[str, Recommender]],
        weights: Mapping[str, float] | Sequence[float] | None = None,
        normalisation: str = "zscore",
    ) -> Self:
        """A fitted blend of members that are already fitted, all on the same matrix.

        Spares refitting members that several blends share (``fit`` would clone and refit
        each one).
        """
        model = cls(recommenders, weights=weights, normalisation=normalisation)
        names = model._members()
        matrix = recommenders[0][1].interactions_
        for _name, member in recommenders[1:]:
            if member.interactions_.shape != matrix.shape or (member.interactions_ != matrix).nnz:
                raise ValueError("every member must be fitted on the same training matrix")
        model.weights_ = _weight_vector(names, weights)
        model._fit_interactions(matrix)
        model.recommenders_ = list(recommenders)
        return model

    def _score_batch(self, user_indices: np.ndarray) -> np.ndarray:
        candidates = _candidate_mask(self.interactions_[user_indices])
        blended = np.zeros((user_indices.size, self.interactions_.shape[1]))
        for (_, member), weight in zip(self.recommenders_, self.weights_, strict=True):
            if weight > 0:
                raw = np.asarray(member._score_batch(user_indices), dtype=np.float64)
                blended += weight * normalise_scores(raw, candidates, self.normalisation)
        return blended

    def _item_similarity(self, item_index: int) -> np.ndarray:
        n_items = self.interactions_.shape[1]
        candidates = np.ones((1, n_items), bool)
        candidates[0, item_index] = False
        blended = np.zeros(n_items)
        for (_, member), weight in zip(self.recommenders_, self.weights_, strict=True):
            if weight > 0:
                similarity = np.asarray(member._item_similarity(item_index), np.float64)
                blended += (
                    weight
                    * normalise_scores(similarity[np.newaxis], candidates, self.normalisation)[0]
                )
        return blended

    # Members are saved as artifacts of their own; the hybrid's JSON names them.
    def _saved_params(self, directory: Path) -> dict[str, Any]:
        names = self._members()
        for position, (_, member) in enumerate(self.recommenders_):
            member.save(directory / "members" / f"{position:02d}")
        return {
            "names": names,
            "weights": [float(weight) for weight in self.weights_],
            "normalisation": self.normalisation,
        }

    @classmethod
    def _from_saved_params(cls, params: dict[str, Any], directory: Path) -> Self:
        members = [
            (name, Recommender.load(directory / "members" / f"{position:02d}"))
            for position, name in enumerate(params["names"])
        ]
        model = cls(
            recommenders=members,
            weights=dict(zip(params["names"], params["weights"], strict=True)),
            normalisation=params["normalisation"],
        )
        model.recommenders_ = members
        model.weights_ = np.asarray(params["weights"], dtype=np.float64)
        return model


@dataclass(frozen=True)
class HybridTuning:
    """Result of :func:`tune_hybrid_weights`: the weights, their validation NDCG@k, each
    member's own validation NDCG@k, and the number of blends evaluated."""

    weights: dict[str, float]
    ndcg: float
    member_ndcg: dict[str, float]
    n_evaluations: int
    n_users: int
    history: list[tuple[dict[str, float], float]] = field(default_factory=list, repr=False)


def tune_hybrid_weights(
    recommenders: Mapping[str, Recommender],
    validation: sparse.csr_matrix,
    *,
    k: int = 10,
    grid: Sequence[float] = DEFAULT_GRID,
    normalisation: str = "zscore",
    max_rounds: int = 4,
    min_gain: float = 0.0,
    max_users: int | None = None,
    random_state: int | None = 0,
) -> HybridTuning:
    """Coordinate search for blend weights maximising NDCG@k on ``validation``.

    ``recommenders`` must already be fitted, all on the same training matrix (the period
    *before* ``validation``); their ``interactions_`` define the seen items that are
    excluded, and a validation item the user had already seen is not relevant. Users with
    no training history or nothing new in ``validation`` are skipped. Starting from the best
    single member at weight 1, each round tries every grid value for every member in turn
    (the others fixed) and moves that member to its best value when the blend's NDCG beats
    the current one by more than ``min_gain`` (relative; e.g. 0.02 = 2 %), a guard against
    chasing noise on a small validation set; it stops after a round without a move.
    ``max_users`` samples that many validation users (seeded by ``random_state``) to bound
    time and memory (n_users x n_items x n_members float32 scores are held).
    """
    names = list(recommenders)
    if not names:
        raise ValueError("no recommenders to blend")
    if min_gain < 0:
        raise ValueError("min_gain must be >= 0")
    members = [recommenders[name] for name in names]
    train = members[0].interactions_
    for member in members[1:]:
        if member.interactions_.shape != train.shape or (member.interactions_ != train).nnz:
            raise ValueError("every member must be fitted on the same training matrix")
    validation = sparse.csr_matrix(validation)
    if validation.shape != train.shape:
        raise ValueError("validation must have the training matrix's shape")
    relevant = (validation > 0).astype(np.int8) - (validation > 0).multiply(train > 0)
    relevant = sparse.csr_matrix(relevant)
    relevant.eliminate_zeros()
    has_history = np.diff(train.indptr) > 0
    users = np.flatnonzero((np.diff(relevant.indptr) > 0) & has_history)
    if users.size == 0:
        raise ValueError("no validation user has both training history and a new item")
    if max_users is not None and users.size > max_users:
        rng = np.random.default_rng(random_state)
        users = np.sort(rng.choice(users, size=max_users, replace=False))
    users = users.astype(np.int64)

    seen = train[users]
    candidates = _candidate_mask(seen)
    stacked = np.empty((len(members), users.size, train.shape[1]), np.float32)
    for position, member in enumerate(members):
        for start in range(0, users.size, 512):
            block = users[start : start + 512]
            raw = np.asarray(member._score_batch(block), dtype=np.float64)
            stacked[position, start : start + block.size] = normalise_scores(
                raw, candidates[start : start + block.size], normalisation
            )
    relevant_rows = relevant[users]
    relevant_dense = relevant_rows.toarray().astype(bool)
    n_relevant = np.diff(relevant_rows.indptr)

    history: list[tuple[dict[str, float], float]] = []

    def score(weights: np.ndarray) -> float:
        blended = np.tensordot(weights.astype(np.float32), stacked, axes=1)
        _mask_seen(blended, seen)
        top, _ = top_k(blended, k)
        hits = np.take_along_axis(relevant_dense, np.maximum(top, 0), axis=1) & (top >= 0)
        value = float(ndcg_from_hits(hits, n_relevant).mean())
        history.append((dict(zip(names, weights.tolist(), strict=True)), value))
        return value

    member_ndcg = {}
    for position, name in enumerate(names):
        single = np.zeros(len(names))
        single[position] = 1.0
        member_ndcg[name] = score(single)
    best_position = int(np.argmax([member_ndcg[name] for name in names]))
    weights = np.zeros(len(names))
    weights[best_position] = 1.0
    best = member_ndcg[names[best_position]]
    for _ in range(max_rounds):
        improved = False
        for position in range(len(names)):
            # The best grid value for this member, others fixed; taken only if it beats the
            # current blend by the required relative gain.
            step_score, step_weights = -np.inf, None
            for value in grid:
                if value == weights[position]:
                    continue
                trial = weights.copy()
                trial[position] = value
                if not np.any(trial > 0):
                    continue
                trial_score = score(trial)
                if trial_score > step_score:
                    step_score, step_weights = trial_score, trial
            if step_weights is not None and step_score > best * (1.0 + min_gain) + 1e-12:
                best, weights, improved = step_score, step_weights, True
        if not improved:
            break
    weights = weights / weights.sum()
    return HybridTuning(
        weights=dict(zip(names, weights.tolist(), strict=True)),
        ndcg=best,
        member_ndcg=member_ndcg,
        n_evaluations=len(history),
        n_users=int(users.size),
        history=history,
    )
