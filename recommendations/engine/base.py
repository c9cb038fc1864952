"""The contract every recommender in this package keeps, and the code they share.

Users and items are integer indices (rows and columns of the interaction matrix); the
mapping from customer and product ids lives outside the engine. An implementation writes two
things: ``fit`` (which must call :meth:`Recommender._fit_interactions` first) and
``_score_batch`` (a dense ``(n_users_in_batch, n_items)`` score block). The base class turns
scores into recommendations, excludes seen items, serves cold-start users and saves/loads
artifacts.

Cold start: a user index inside the training matrix whose row is empty gets the most popular
training items (distinct users who interacted with each item), whatever the implementation;
their scores are those user counts. (``PopularityRecommender`` serves such a user its own
ranking: by weight, or their segment's.) An index outside the training matrix raises
``IndexError``: new customers have no index until the next training.

Artifacts are a directory holding ``model.npz`` (class name, ``__init__`` parameters as JSON,
dense fitted arrays) and one ``scipy.sparse.save_npz`` file per sparse fitted attribute.
Everything is read back with ``allow_pickle=False``; nothing is pickled.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator

__all__ = ["NotFittedError", "Recommender", "check_interactions", "top_k"]

ARTIFACT_FORMAT = 1
_MODEL_FILE = "model.npz"
_META_KEY = "__meta__"
_REGISTRY: dict[str, type[Recommender]] = {}


class NotFittedError(RuntimeError):
    """A recommender was asked to recommend or save before ``fit``."""


def check_interactions(interactions: Any) -> sparse.csr_matrix:
    """Return a float64 CSR copy of ``interactions`` without explicit zeros.

    Raises ``ValueError`` for a non-2-d or non-sparse input, NaN/inf or a negative weight
    (returns are netted out when the matrix is built, see ``interactions.py``).
    """
    if not sparse.issparse(interactions) or interactions.ndim != 2:
        raise ValueError("interactions must be a 2-d scipy.sparse matrix (users x items)")
    matrix = sparse.csr_matrix(interactions, dtype=np.float64, copy=True)
    matrix.sum_duplicates()
    if not np.all(np.isfinite(matrix.data)):
        raise ValueError("interactions contain NaN or infinite weights")
    if np.any(matrix.data < 0):
        raise ValueError("interactions contain negative weights")
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top ``k`` of a dense score block, best first.

    Returns ``(indices, values)`` of shape ``(n_rows, min(k, n_columns))``. Entries that are
    ``-inf`` (excluded) come back as index ``-1``. Ties are broken deterministically (by
    ``argpartition``'s choice at the boundary, then by lower index).
    """
    n_rows, n_columns = scores.shape
    k = min(k, n_columns)
    if k == 0:
        return np.empty((n_rows, 0), np.int64), np.empty((n_rows, 0), np.float64)
    if k < n_columns:
        candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        candidates = np.broadcast_to(np.arange(n_columns), (n_rows, n_columns))
    values = np.take_along_axis(scores, candidates, axis=1)
    order = np.lexsort((candidates, -values), axis=-1)
    indices = np.take_along_axis(candidates, order, axis=1).astype(np.int64)
    values = np.take_along_axis(values, order, axis=1).astype(np.float64)
    indices[~np.isfinite(values)] = -1
    return indices, values


def _json_ready(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _tuples(value: Any) -> Any:
    # JSON has no tuple; scikit-learn parameters such as ``ngram_range`` insist on one.
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value


class Recommender(BaseEstimator, ABC):
    """Abstract base of every recommender (scikit-learn estimator conventions).

    Parameters go in ``__init__``; ``fit`` returns ``self``; fitted attributes end in ``_``.
    Every fitted recommender has ``interactions_`` (the training CSR matrix, used to exclude
    seen items) and ``item_popularity_`` (distinct users per item, for cold start).
    """

    #: Fitted attributes written by :meth:`save`, besides the two every model has.
    _fitted_attributes: ClassVar[tuple[str, ...]] = ()
    #: Users scored per block in :meth:`recommend_batch` (bounds memory to block x n_items).
    _batch_size: ClassVar[int] = 512

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # -- what an implementation provides -------------------------------------------------

    @abstractmethod
    def fit(self, interactions: sparse.csr_matrix, *, item_features: Any = None) -> Self:
        """Learn from ``interactions`` (users x items, non-negative implicit weights).

        ``item_features`` is used by content-based models (one text or mapping per item)
        and ignored by the others. Returns ``self``.
        """

    @abstractmethod
    def _score_batch(self, user_indices: np.ndarray) -> np.ndarray:
        """Dense scores ``(len(user_indices), n_items)``; higher is better."""

    def _item_similarity(self, item_index: int) -> np.ndarray:
        """Similarity of ``item_index`` to every item (dense, length ``n_items``).

        Default: cosine of the item columns of the training matrix (co-occurrence).
        """
        return _column_cosine(self.interactions_, item_index)

    # -- shared behaviour ---------------------------------------------------------------

    def _fit_interactions(self, interactions: Any) -> sparse.csr_matrix:
        """Validate and remember the training matrix; every ``fit`` starts here."""
        matrix = check_interactions(interactions)
        self.interactions_ = matrix
        self.item_popularity_ = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(
            np.float64
        )
        return matrix

    @property
    def n_users_(self) -> int:
        self._check_fitted()
        return self.interactions_.shape[0]

    @property
    def n_items_(self) -> int:
        self._check_fitted()
        return self.interactions_.shape[1]

    def _check_fitted(self) -> None:
        if not hasattr(self, "interactions_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _user_array(self, user_indices: Any) -> np.ndarray:
        users = np.asarray(user_indices)
        if users.ndim == 0:
            users = users.reshape(1)
        if users.size and not np.issubdtype(users.dtype, np.integer):
            raise TypeError("user indices must be integers")
        users = users.astype(np.int64).ravel()
        n_users = self.interactions_.shape[0]
        if users.size and (users.min() < 0 or users.max() >= n_users):
            raise IndexError(f"user index out of range [0, {n_users})")
        return users

    def recommend_batch(
        self, user_indices: Sequence[int] | np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items for many users at once.

        Returns ``(indices, scores)``, both ``(n_users, min(k, n_items))``, best first. A
        user with fewer than ``k`` recommendable items has trailing index ``-1`` and score
        ``-inf``. With ``exclude_seen`` the user's training items are never recommended.
        """
        self._check_fitted()
        if int(k) != k or k < 1:
            raise ValueError("k must be a positive integer")
        k = int(k)
        users = self._user_array(user_indices)
        n_items = self.interactions_.shape[1]
        width = min(k, n_items)
        all_indices = np.empty((users.size, width), np.int64)
        all_scores = np.empty((users.size, width), np.float64)
        for start in range(0, users.size, self._batch_size):
            block = users[start : start + self._batch_size]
            scores = self._scores_with_fallback(block)
            if exclude_seen:
                _mask_seen(scores, self.interactions_[block])
            indices, values = top_k(scores, width)
            all_indices[start : start + block.size] = indices
            all_scores[start : start + block.size] = values
        return all_indices, all_scores

    def _scores_with_fallback(self, users: np.ndarray) -> np.ndarray:
        scores = np.array(self._score_batch(users), dtype=np.float64)
        scores[np.isnan(scores)] = -np.inf
        cold = np.diff(self.interactions_.indptr)[users] == 0
        if cold.any():
            scores[cold] = self.item_popularity_
        return scores

    def recommend(
        self, user_index: int, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(item_indices, scores)`` for one user, best first (fewer if the
        catalogue runs out of unseen items)."""
        indices, scores = self.recommend_batch([user_index], k, exclude_seen=exclude_seen)
        keep = indices[0] >= 0
        return indices[0][keep], scores[0][keep]

    def similar_items(self, item_index: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to ``item_index`` (never itself), best first."""
        self._check_fitted()
        n_items = self.interactions_.shape[1]
        if not 0 <= int(item_index) < n_items:
            raise IndexError(f"item index out of range [0, {n_items})")
        if int(k) != k or k < 1:
            raise ValueError("k must be a positive integer")
        similarity = np.array(self._item_similarity(int(item_index)), dtype=np.float64)
        similarity[np.isnan(similarity)] = -np.inf
        similarity[int(item_index)] = -np.inf
        indices, values = top_k(similarity[np.newaxis, :], min(int(k), n_items - 1))
        keep = indices[0] >= 0
        return indices[0][keep], values[0][keep]

    # -- artifacts ------------------------------------------------------------------------

    def _saved_params(self, directory: Path) -> dict[str, Any]:
        """JSON-ready ``__init__`` parameters (a composite also saves its children here)."""
        return _json_ready(self.get_params(deep=False))

    @classmethod
    def _from_saved_params(cls, params: dict[str, Any], directory: Path) -> Self:
        return cls(**{key: _tuples(value) for key, value in params.items()})

    def save(self, directory: str | Path) -> Path:
        """Write the fitted model under ``directory`` (created if missing); returns it."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        dense: dict[str, np.ndarray] = {}
        sparse_names: list[str] = []
        for name in ("interactions_", "item_popularity_", *self._fitted_attributes):
            value = getattr(self, name, None)
            if value is None:
                continue
            if sparse.issparse(value):
                sparse.save_npz(directory / f"{name}.npz", sparse.csr_matrix(value))
                sparse_names.append(name)
            else:
                dense[name] = np.asarray(value)
        meta = {
            "format": ARTIFACT_FORMAT,
            "class": type(self).__name__,
            "params": self._saved_params(directory),
            "sparse": sparse_names,
        }
        np.savez(directory / _MODEL_FILE, **{_META_KEY: np.array(json.dumps(meta))}, **dense)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Read a model written by :meth:`save`.

        Called on ``Recommender`` it returns whichever class was saved; called on a
        subclass it also checks the artifact is of that class.
        """
        directory = Path(directory)
        with np.load(directory / _MODEL_FILE, allow_pickle=False) as archive:
            meta = json.loads(str(archive[_META_KEY]))
            arrays = {name: archive[name] for name in archive.files if name != _META_KEY}
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"unsupported artifact format {meta.get('format')!r}")
        target = _REGISTRY.get(meta["class"])
        if target is None or not issubclass(target, cls):
            raise TypeError(f"{directory} holds a {meta['class']}, not a {cls.__name__}")
        model = target._from_saved_params(meta["params"], directory)
        for name, value in arrays.items():
            setattr(model, name, value)
        for name in meta["sparse"]:
            setattr(model, name, sparse.load_npz(directory / f"{name}.npz").tocsr())
        # Optional fitted attributes that were None are not written; restore them as None.
        for name in target._fitted_attributes:
            if not hasattr(model, name):
                setattr(model, name, None)
        return model


def _mask_seen(scores: np.ndarray, seen: sparse.csr_matrix) -> None:
    """Set the score of every stored entry of ``seen`` (block rows) to ``-inf`` in place."""
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    scores[rows, seen.indices] = -np.inf


def _column_cosine(matrix: sparse.csr_matrix, column: int) -> np.ndarray:
    """Cosine between column ``column`` of ``matrix`` and every column (dense vector)."""
    csc = matrix.tocsc()
    norms = np.sqrt(np.asarray(csc.multiply(csc).sum(axis=0)).ravel())
    target = csc[:, column]
    dots = np.asarray((target.T @ csc).todense()).ravel()
    denominator = norms * norms[column]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, dots / np.where(denominator > 0, denominator, 1), 0.0)
