"""EASE: Embarrassingly Shallow Autoencoder (Steck, WWW 2019), closed form.

    G = X^T X + lambda I,  P = G^-1,  B = I - P diagMat(1 / diag(P))

so ``B[i, j] = -P[i, j] / P[j, j]`` off the diagonal and ``diag(B) = 0``; scores are
``X @ B``. ``B`` is a dense items x items matrix (8 bytes x n_items^2, and an O(n_items^3)
inversion), so ``fit`` refuses catalogues above ``max_items``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from scipy import sparse
from scipy.linalg import lapack

from .base import Recommender

__all__ = ["EASERecommender"]


class EASERecommender(Recommender):
    """EASE with L2 penalty ``l2`` (Steck's lambda).

    Parameters
    ----------
    l2 : float
        Regularisation; a few hundred suits typical implicit data.
    max_items : int
        Refuse to fit above this many items (the dense weight matrix would not fit).

    Fitted ``weights_``: ``B``, dense items x items with a zero diagonal.
    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = ("weights_",)

    def __init__(self, l2: float = 500.0, max_items: int = 20_000) -> None:
        self.l2 = l2
        self.max_items = max_items

    def fit(self, interactions: sparse.csr_matrix, *, item_features: Any = None) -> Self:
        if self.l2 <= 0:
            raise ValueError("l2 must be positive (X^T X alone may be singular)")
        n_items = interactions.shape[1]
        if n_items > self.max_items:
            raise ValueError(
                f"EASE needs a dense {n_items} x {n_items} matrix; {n_items} items is above "
                f"max_items={self.max_items}. Use ItemKNNRecommender or ALSRecommender."
            )
        matrix = self._fit_interactions(interactions)
        gram = (matrix.T @ matrix).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        # G is symmetric positive definite: inverting through its Cholesky factor (LAPACK
        # potrf + potri) takes about half the time of cho_solve(I) or a general LU inverse
        # (3.1 s against 5.9 s and 7.0 s for 3,676 items on one thread).
        factor, info = lapack.dpotrf(gram, lower=False, overwrite_a=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"X^T X + l2 I is not positive definite (potrf {info})")
        upper, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"inverting X^T X + l2 I failed (potri {info})")
        precision = np.triu(upper) + np.triu(upper, 1).T
        weights = precision / -np.diag(precision)
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights_ = weights
        return self

    def _score_batch(self, user_indices: np.ndarray) -> np.ndarray:
        return np.asarray(self.interactions_[user_indices] @ self.weights_)

    def _item_similarity(self, item_index: int) -> np.ndarray:
        # Row i of B: what a user who interacted only with item i would be recommended.
        return self.weights_[item_index].copy()
