"""Matrix factorisation for implicit feedback, trained with the ``implicit`` package (CPU).

* :class:`ALSRecommender`: Hu, Koren & Volinsky (2008) weighted ALS, conjugate-gradient
  solver. Confidence ``1 + alpha * w`` for an observed weight ``w``, preference 1; every
  unobserved cell has confidence 1 and preference 0.
* :class:`BPRRecommender`: Rendle et al. (2009) Bayesian personalised ranking by SGD over
  (user, positive, negative) triples; weights are ignored, any stored cell is a positive.

Both are reproducible for an integer ``random_state`` with ``num_threads=1`` (the default;
BPR's parallel "hogwild" updates are not deterministic with more threads). ``implicit`` is
only used in ``fit``: scoring uses the saved factor matrices, so a loaded model needs numpy
alone. BLAS is held to one thread while fitting, as ``implicit`` recommends.

Scores are ``user_factors_ @ item_factors_.T``; ``similar_items`` is the cosine of item
factors.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from .base import Recommender

__all__ = ["ALSRecommender", "BPRRecommender"]


class _FactorModel(Recommender):
    _fitted_attributes: ClassVar[tuple[str, ...]] = ("user_factors_", "item_factors_")

    def _check_common(self) -> None:
        if int(self.factors) != self.factors or self.factors < 1:
            raise ValueError("factors must be a positive integer")
        if int(self.iterations) != self.iterations or self.iterations < 1:
            raise ValueError("iterations must be a positive integer")

    def _score_batch(self, user_indices: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_indices].astype(np.float64) @ self.item_factors_.T

    def _item_similarity(self, item_index: int) -> np.ndarray:
        factors = self.item_factors_.astype(np.float64)
        norms = np.linalg.norm(factors, axis=1)
        dots = factors @ factors[item_index]
        denominator = norms * norms[item_index]
        return np.divide(dots, denominator, out=np.zeros_like(dots), where=denominator > 0)

    def _implicit_model(self) -> Any:
        """The unfitted ``implicit`` estimator for this model's parameters."""
        raise NotImplementedError

    def fit(self, interactions: sparse.csr_matrix, *, item_features: Any = None) -> Self:
        self._check_common()
        matrix = self._fit_interactions(interactions)
        with threadpool_limits(limits=1, user_api="blas"):
            model = self._implicit_model()
            model.fit(sparse.csr_matrix(matrix, dtype=np.float32), show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        return self


class ALSRecommender(_FactorModel):
    """Implicit-feedback ALS (``implicit.cpu.als``).

    Parameters
    ----------
    factors : int
    regularization : float
        L2 penalty on both factor matrices.
    alpha : float
        Confidence slope: ``1 + alpha * w``.
    iterations : int
        Alternating sweeps.
    random_state : int or None
        Seeds the initial factors.
    num_threads : int
        Threads for ``implicit`` (ALS rows are solved independently, so the result does not
        depend on it).
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        random_state: int | None = None,
        num_threads: int = 1,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _implicit_model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=int(self.factors),
            regularization=float(self.regularization),
            alpha=float(self.alpha),
            iterations=int(self.iterations),
            use_cg=True,
            calculate_training_loss=False,
            num_threads=int(self.num_threads),
            random_state=self.random_state,
        )


class BPRRecommender(_FactorModel):
    """Bayesian personalised ranking (``implicit.cpu.bpr``).

    ``item_factors_`` has ``factors + 1`` columns: the last one is the item bias, matched by
    a constant 1 in ``user_factors_``.
    """

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        random_state: int | None = None,
        num_threads: int = 1,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _implicit_model(self) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(
            factors=int(self.factors),
            learning_rate=float(self.learning_rate),
            regularization=float(self.regularization),
            iterations=int(self.iterations),
            num_threads=int(self.num_threads),
            random_state=self.random_state,
        )
