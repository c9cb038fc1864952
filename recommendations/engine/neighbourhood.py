"""Neighbourhood collaborative filtering: item-based and user-based k-nearest neighbours.

Similarities
------------
``"cosine"``: cosine of the raw weight vectors (item columns, or user rows).
``"pearson"``: the same cosine after each user's stored weights are centred on that user's
mean weight. For items this is the *adjusted cosine* of Sarwar et al. (2001); for users it
is Pearson correlation over all of each user's items (absent entries count as the mean).
With unweighted (all-ones) data every centred weight is 0, so use it on weighted matrices.

Shrinkage (Koren 2008): ``sim * n_common / (n_common + shrinkage)`` where ``n_common`` is
the number of users (for item pairs) or items (for user pairs) the two share; it pulls
similarities resting on a few co-occurrences towards 0.

Only the ``n_neighbours`` most similar neighbours of each item (user) are kept, in a sparse
matrix. They are found a block of columns at a time (at most ~4M dense floats per block),
so memory stays O(n x n_neighbours), never O(n^2).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from scipy import sparse

from .base import Recommender

__all__ = ["ItemKNNRecommender", "UserKNNRecommender", "neighbour_similarity"]

_SIMILARITIES = ("cosine", "pearson")
_BLOCK_ELEMENTS = 4_000_000


def _centre_by_user(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Subtract each user's mean stored weight from that user's stored weights."""
    counts = np.diff(matrix.indptr)
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    means = np.divide(sums, counts, out=np.zeros(matrix.shape[0]), where=counts > 0)
    centred = matrix.copy()
    centred.data = matrix.data - np.repeat(means, counts)
    return centred


def neighbour_similarity(
    vectors: sparse.csr_matrix,
    *,
    n_neighbours: int,
    shrinkage: float = 0.0,
    pattern: sparse.csr_matrix | None = None,
) -> sparse.csr_matrix:
    """Top-``n_neighbours`` cosine similarities between the *columns* of ``vectors``.

    Returns a CSR matrix whose row ``j`` holds column ``j``'s neighbours (never itself;
    non-positive similarities are not kept). ``pattern`` (same shape, defaults to
    ``vectors``) defines co-occurrence for shrinkage: ``n_common`` counts the rows where
    both columns are stored.
    """
    csc = sparse.csc_matrix(vectors, dtype=np.float64)
    n_columns = csc.shape[1]
    norms = np.sqrt(np.asarray(csc.multiply(csc).sum(axis=0)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    normalised = (csc @ sparse.diags(inverse)).tocsc()
    transposed = normalised.T.tocsr()
    binary = None
    if shrinkage > 0:
        source = vectors if pattern is None else pattern
        binary = sparse.csc_matrix(source, dtype=np.float64, copy=True)
        binary.data[:] = 1.0
        binary_t = binary.T.tocsr()
    keep = min(n_neighbours, max(n_columns - 1, 0))
    block = max(1, _BLOCK_ELEMENTS // max(n_columns, 1))
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for start in range(0, n_columns, block):
        stop = min(start + block, n_columns)
        # dense[c, j]: similarity of column c to column j of this block.
        dense = (transposed @ normalised[:, start:stop]).toarray()
        if binary is not None:
            common = (binary_t @ binary[:, start:stop]).toarray()
            dense *= common / (common + shrinkage)
        dense[np.arange(start, stop), np.arange(stop - start)] = 0.0
        if keep == 0:
            continue
        top = np.argpartition(-dense, keep - 1, axis=0)[:keep]
        top_values = np.take_along_axis(dense, top, axis=0)
        positive = top_values > 0
        owners = np.broadcast_to(np.arange(start, stop), top.shape)
        rows.append(owners[positive])
        cols.append(top[positive])
        vals.append(top_values[positive])
    if rows:
        data = np.concatenate(vals)
        row_index = np.concatenate(rows)
        col_index = np.concatenate(cols)
    else:
        data, row_index, col_index = np.zeros(0), np.zeros(0, int), np.zeros(0, int)
    similarity = sparse.csr_matrix((data, (row_index, col_index)), shape=(n_columns, n_columns))
    similarity.sort_indices()
    return similarity


class _KNNParams:
    def _check_params(self) -> None:
        if self.similarity not in _SIMILARITIES:
            raise ValueError(f"similarity must be one of {_SIMILARITIES}")
        if int(self.n_neighbours) != self.n_neighbours or self.n_neighbours < 1:
            raise ValueError("n_neighbours must be a positive integer")
        if self.shrinkage < 0:
            raise ValueError("shrinkage must be >= 0")


class ItemKNNRecommender(_KNNParams, Recommender):
    """Item-based CF: ``score(u, i) = sum_j w_uj * sim(i, j)`` over ``i``'s neighbours ``j``.

    Parameters
    ----------
    n_neighbours : int
        Neighbours kept per item.
    similarity : {"cosine", "pearson"}
    shrinkage : float
        ``sim * n_common / (n_common + shrinkage)``; 0 disables it.

    Fitted ``similarity_``: CSR items x items, row ``i`` = ``i``'s neighbours.
    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = ("similarity_",)

    def __init__(
        self, n_neighbours: int = 100, similarity: str = "cosine", shrinkage: float = 0.0
    ) -> None:
        self.n_neighbours = n_neighbours
        self.similarity = similarity
        self.shrinkage = shrinkage

    def fit(self, interactions: sparse.csr_matrix, *, item_features: Any = None) -> Self:
        self._check_params()
        matrix = self._fit_interactions(interactions)
        vectors = _centre_by_user(matrix) if self.similarity == "pearson" else matrix
        self.similarity_ = neighbour_similarity(
            vectors,
            n_neighbours=int(self.n_neighbours),
            shrinkage=float(self.shrinkage),
            pattern=matrix,
        )
        return self

    def _score_batch(self, user_indices: np.ndarray) -> np.ndarray:
        return (self.interactions_[user_indices] @ self.similarity_.T).toarray()

    def _item_similarity(self, item_index: int) -> np.ndarray:
        return self.similarity_[item_index].toarray().ravel()


class UserKNNRecommender(_KNNParams, Recommender):
    """User-based CF: ``score(u, i) = sum_v sim(u, v) * w_vi`` over ``u``'s neighbours ``v``.

    Same parameters as :class:`ItemKNNRecommender`. Fitted ``similarity_``: CSR users x
    users, row ``u`` = ``u``'s neighbours. ``similar_items`` uses the base class's item
    co-occurrence cosine.
    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = ("similarity_",)

    def __init__(
        self, n_neighbours: int = 100, similarity: str = "cosine", shrinkage: float = 0.0
    ) -> None:
        self.n_neighbours = n_neighbours
        self.similarity = similarity
        self.shrinkage = shrinkage

    def fit(self, interactions: sparse.csr_matrix, *, item_features: Any = None) -> Self:
        self._check_params()
        matrix = self._fit_interactions(interactions)
        vectors = _centre_by_user(matrix) if self.similarity == "pearson" else matrix
        self.similarity_ = neighbour_similarity(
            vectors.T.tocsr(),
            n_neighbours=int(self.n_neighbours),
            shrinkage=float(self.shrinkage),
            pattern=matrix.T.tocsr(),
        )
        return self

    def _score_batch(self, user_indices: np.ndarray) -> np.ndarray:
        return (self.similarity_[user_indices] @ self.interactions_).toarray()
