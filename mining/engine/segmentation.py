"""Customer segmentation: robust scaling, K-Means with K chosen for you, DBSCAN, RFM names.

Pure numpy / scipy / scikit-learn; no Django. The pieces, in the order a training uses them:

* :class:`FeatureScaler` - ``log1p`` on skewed non-negative columns, standardise, clip to
  ``±clip`` standard deviations, so a handful of huge spenders cannot pull a centroid of their own.
* :class:`CustomerSegmentation` - the estimator. K-Means over ``k_min..k_max`` records the
  inertia (elbow) and a sampled silhouette for every K and picks one by the rule below; DBSCAN is
  the alternative (``eps`` from the knee of the k-distance curve, noise labelled ``-1``). Either
  way no cluster may hold fewer than ``min_cluster_fraction`` of the customers.
* :func:`rfm_scores`, :func:`centroid_rfm_scores`, :func:`rfm_segment_name`,
  :func:`unique_segment_names` - quintile scores and the standard RFM segment map, so a cluster
  reads "Champions" or "At risk" instead of "cluster 3".
* :func:`match_segments` - Hungarian matching of new centroids to the previous run's, so a
  segment keeps its identity (key and name) from one training to the next.
* :func:`project_2d` - PCA to two dimensions for the scatter plot.

Choosing K
----------
1. K is *valid* when its smallest cluster holds at least ``min_cluster_fraction`` of the
   customers (and two of them): a cluster of one outlier is not a segment.
2. The elbow: the knee of the inertia curve, found with Kneedle (the ``kneed`` package) or, when
   that finds none or is not installed, as the point farthest below the chord joining the
   curve's ends (both on the curve normalised to the unit square).
3. The knee's neighbourhood is the valid K within ``knee_neighbourhood`` of it. The incumbent
   is the knee or, on a retraining, the previous run's K when that lies in the neighbourhood.
   The incumbent is kept unless a neighbour's silhouette beats it by more than
   ``silhouette_tolerance``; then the neighbour with the best silhouette wins. The elbow says
   where adding clusters stops paying; the silhouette arbitrates only nearby, because on real
   customers it tends to favour K=2; and a retraining does not change K for noise-level
   differences, so the merchant's segments stay put.
4. No knee: the valid K with the best silhouette. No valid K: ``k_min``, with clusters below
   the minimum size merged into their nearest neighbours.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import DBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import davies_bouldin_score, silhouette_score
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

try:  # Kneedle; the chord fallback below gives the same answer on clean elbows.
    from kneed import KneeLocator
except ImportError:  # pragma: no cover - exercised only where kneed is not installed
    KneeLocator = None

__all__ = [
    "FEATURE_NAMES",
    "CustomerSegmentation",
    "FeatureScaler",
    "SegmentMatch",
    "centroid_rfm_scores",
    "knee_index",
    "match_segments",
    "project_2d",
    "quintile_scores",
    "rfm_scores",
    "rfm_segment_name",
    "unique_segment_names",
]

#: The customer features the selectors build, in column order.
FEATURE_NAMES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "purchase_count",
    "browse_count",
    "average_basket",
    "return_rate",
    "tenure_days",
)

ProgressCallback = Callable[[float, str], None]


def _as_matrix(X) -> np.ndarray:
    matrix = np.asarray(X, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D feature matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("the feature matrix holds NaN or infinite values")
    return matrix


# --- scaling ---------------------------------------------------------------------------------


class FeatureScaler(TransformerMixin, BaseEstimator):
    """``log1p`` on skewed non-negative columns, then standardise and clip.

    Parameters
    ----------
    log_features : "auto", None or sequence of bool / int
        Which columns get ``log1p``. ``"auto"``: every column whose values are all ``>= 0`` and
        whose sample skewness exceeds ``skew_threshold`` (counts and money, typically).
    clip : float or None
        Standardised values are clipped to ``[-clip, clip]`` so extreme customers sit on the
        edge of the cloud instead of far outside it.
    skew_threshold : float
        Skewness above which ``"auto"`` takes the log.

    Attributes
    ----------
    log_mask_ : ndarray of bool, shape (n_features,)
    mean_, scale_ : ndarray, shape (n_features,)
        Of the (logged) columns; a constant column gets scale 1.
    """

    def __init__(self, log_features="auto", clip: float | None = 4.0, skew_threshold=1.0):
        self.log_features = log_features
        self.clip = clip
        self.skew_threshold = skew_threshold

    def fit(self, X, y=None) -> FeatureScaler:
        X = _as_matrix(X)
        self.n_features_in_ = X.shape[1]
        self.log_mask_ = self._log_mask(X)
        logged = self._log(X, self.log_mask_)
        self.mean_ = logged.mean(axis=0)
        scale = logged.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        return self

    def _log_mask(self, X: np.ndarray) -> np.ndarray:
        n_features = X.shape[1]
        if self.log_features is None:
            return np.zeros(n_features, dtype=bool)
        if isinstance(self.log_features, str):
            if self.log_features != "auto":
                raise ValueError(
                    f"log_features must be 'auto', None or a list, not {self.log_features!r}"
                )
            return (X.min(axis=0) >= 0) & (_skewness(X) > self.skew_threshold)
        chosen = np.asarray(self.log_features)
        if chosen.dtype == bool:
            if chosen.shape != (n_features,):
                raise ValueError("a boolean log_features needs one flag per feature")
            return chosen.copy()
        mask = np.zeros(n_features, dtype=bool)
        mask[chosen.astype(int)] = True
        return mask

    @staticmethod
    def _log(X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        logged = X.copy()
        # A value below zero in a logged column (new data) is treated as zero, not as NaN.
        logged[:, mask] = np.log1p(np.maximum(X[:, mask], 0.0))
        return logged

    def transform(self, X) -> np.ndarray:
        X = _as_matrix(X)
        scaled = (self._log(X, self.log_mask_) - self.mean_) / self.scale_
        if self.clip is not None:
            np.clip(scaled, -self.clip, self.clip, out=scaled)
        return scaled

    def inverse_transform(self, Z) -> np.ndarray:
        """Scaled points back to feature units (a centroid becomes a "typical customer")."""
        logged = np.asarray(Z, dtype=np.float64) * self.scale_ + self.mean_
        raw = logged.copy()
        raw[:, self.log_mask_] = np.expm1(logged[:, self.log_mask_])
        return raw

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted parameters as plain arrays, for an ``.npz`` artifact."""
        return {
            "scaler_log_mask": self.log_mask_,
            "scaler_mean": self.mean_,
            "scaler_scale": self.scale_,
            "scaler_clip": np.array(np.nan if self.clip is None else self.clip),
        }

    @classmethod
    def from_arrays(cls, arrays) -> FeatureScaler:
        clip = float(arrays["scaler_clip"])
        scaler = cls(log_features=None, clip=None if math.isnan(clip) else clip)
        scaler.log_mask_ = np.asarray(arrays["scaler_log_mask"], dtype=bool)
        scaler.mean_ = np.asarray(arrays["scaler_mean"], dtype=np.float64)
        scaler.scale_ = np.asarray(arrays["scaler_scale"], dtype=np.float64)
        scaler.n_features_in_ = len(scaler.mean_)
        return scaler


def _skewness(X: np.ndarray) -> np.ndarray:
    centred = X - X.mean(axis=0)
    std = X.std(axis=0)
    third = (centred**3).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = third / std**3
    return np.where(std > 1e-12, skew, 0.0)


# --- knees -----------------------------------------------------------------------------------


def knee_index(
    x: Sequence[float], y: Sequence[float], *, direction: str = "decreasing"
) -> tuple[int | None, str]:
    """Index of the knee of a convex curve, and the method that found it.

    Parameters
    ----------
    x, y : sequences of float
        The curve, ``x`` increasing: inertia by K (``direction="decreasing"``) or sorted
        k-distances (``"increasing"``).

    Returns
    -------
    (index or None, method)
        ``method`` is ``"kneedle"`` or ``"chord"`` (the point farthest below the chord between
        the ends, on the curve scaled to the unit square); ``None`` when the curve has no bend.
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(xs) < 3 or np.ptp(ys) == 0:
        return None, "none"
    if KneeLocator is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kneed warns when it finds no knee
            knee = KneeLocator(xs, ys, curve="convex", direction=direction, S=1.0).knee
        if knee is not None:
            return int(np.argmin(np.abs(xs - knee))), "kneedle"
    nx = (xs - xs[0]) / (xs[-1] - xs[0])
    ny = (ys - ys.min()) / np.ptp(ys)
    chord = ny[0] + (ny[-1] - ny[0]) * nx
    below = chord - ny  # a convex curve lies under its chord; the knee is deepest under it
    best = int(np.argmax(below))
    if below[best] <= 1e-9:
        return None, "none"
    return best, "chord"


# --- the estimator ---------------------------------------------------------------------------


class CustomerSegmentation(ClusterMixin, BaseEstimator):
    """Segments customers from a feature matrix: K-Means with K chosen, or DBSCAN.

    Parameters
    ----------
    algorithm : {"kmeans", "dbscan"}
    n_clusters : int or None
        Fix K (K-Means only); ``None`` chooses it over ``k_min..k_max`` (see the module doc).
    k_min, k_max : int
        The K range tried; ``k_max`` is capped at ``n_samples - 1``.
    knee_neighbourhood : int
        How far from the knee (in K) the silhouette may move the choice.
    silhouette_tolerance : float
        A neighbour must beat the knee's silhouette by more than this to replace it.
    min_cluster_fraction : float
        Smallest share of customers a cluster may hold.
    silhouette_sample_size : int
        Silhouettes are computed on one fixed random sample of this many customers (the same
        sample for every K, so the curve compares like with like).
    eps, min_samples : DBSCAN's; ``eps=None`` takes the knee of the k-distance curve,
        ``min_samples=None`` takes ``2 * n_features``.
    log_features, clip : passed to :class:`FeatureScaler`.
    n_init : int
        K-Means restarts per K.
    previous_centers : array, shape (k_previous, n_features), optional
        The previous run's centroids in feature units. K-Means with ``K = k_previous`` is
        also started from them, and that fit is kept when its inertia is within
        ``warm_start_tolerance`` (relative) of the best fresh one: K-Means has many near-equal
        optima on real customers, and this picks the one the merchant already knows.
    warm_start_tolerance : float
    n_threads : int or None
        Caps the BLAS/OpenMP threads of the fit (``None``: the libraries' default, every core).
        On a machine shared with other workers, OpenMP threads that outnumber the free cores
        spin against each other and K-Means slows down ten-fold; cap it there.
    random_state : int
        Seeds K-Means, the silhouette sample and PCA.

    Attributes
    ----------
    scaler_ : FeatureScaler
    labels_ : ndarray of int, shape (n_samples,)
        0 is the largest cluster; ``-1`` is DBSCAN noise.
    cluster_centers_ : ndarray, shape (n_clusters_, n_features)
        Member means in the scaled space.
    n_clusters_, cluster_sizes_ :
    k_values_, inertia_by_k_, silhouette_by_k_, min_size_by_k_, min_share_by_k_ : ndarrays
        The K-Means curves (empty for DBSCAN); a silhouette is NaN where undefined.
    silhouette_sample_ : ndarray of int
        The rows every silhouette is computed on.
    min_cluster_size_ : int
        ``min_cluster_fraction`` of the customers, at least 2.
    knee_k_, knee_method_, selection_reason_ :
        The elbow found and why the chosen K won.
    inertia_, silhouette_, davies_bouldin_ : float
        Of the final labelling (silhouette on the sample; NaN when undefined).
    random_silhouette_ : float
        The silhouette of the same cluster sizes assigned at random: what "no structure" scores.
    warm_started_ : bool
        Whether the chosen labelling grew from ``previous_centers``.
    noise_share_ : float
        Share of customers labelled noise (DBSCAN; 0 for K-Means).
    eps_, min_samples_ : DBSCAN's values used (NaN / 0 for K-Means).
    """

    def __init__(
        self,
        algorithm: str = "kmeans",
        n_clusters: int | None = None,
        k_min: int = 2,
        k_max: int = 10,
        knee_neighbourhood: int = 1,
        silhouette_tolerance: float = 0.02,
        min_cluster_fraction: float = 0.01,
        silhouette_sample_size: int = 3000,
        eps: float | None = None,
        min_samples: int | None = None,
        log_features="auto",
        clip: float | None = 4.0,
        n_init: int = 10,
        previous_centers=None,
        warm_start_tolerance: float = 0.01,
        n_threads: int | None = None,
        random_state: int | None = 0,
    ):
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.k_min = k_min
        self.k_max = k_max
        self.knee_neighbourhood = knee_neighbourhood
        self.silhouette_tolerance = silhouette_tolerance
        self.min_cluster_fraction = min_cluster_fraction
        self.silhouette_sample_size = silhouette_sample_size
        self.eps = eps
        self.min_samples = min_samples
        self.log_features = log_features
        self.clip = clip
        self.n_init = n_init
        self.previous_centers = previous_centers
        self.warm_start_tolerance = warm_start_tolerance
        self.n_threads = n_threads
        self.random_state = random_state

    # -- fitting --

    def fit(self, X, y=None, *, progress: ProgressCallback | None = None) -> CustomerSegmentation:
        """Scale ``X`` (customers x features) and cluster it.

        ``progress(fraction, message)``, when given, is told how far the fit has got.
        """
        X = _as_matrix(X)
        n = X.shape[0]
        if n < 3:
            raise ValueError(f"segmentation needs at least 3 customers, got {n}")
        if self.algorithm not in {"kmeans", "dbscan"}:
            raise ValueError(f"algorithm must be 'kmeans' or 'dbscan', not {self.algorithm!r}")
        with threadpool_limits(limits=self.n_threads):
            return self._fit(X, progress or (lambda _fraction, _message: None))

    def _fit(self, X: np.ndarray, report: ProgressCallback) -> CustomerSegmentation:
        n = X.shape[0]
        self.n_features_in_ = X.shape[1]
        self.scaler_ = FeatureScaler(log_features=self.log_features, clip=self.clip).fit(X)
        Z = self.scaler_.transform(X)
        self.min_cluster_size_ = max(2, math.ceil(self.min_cluster_fraction * n))
        self.silhouette_sample_ = self._silhouette_sample(n)

        if self.algorithm == "kmeans":
            labels = self._fit_kmeans(Z, report)
        else:
            labels = self._fit_dbscan(Z, report)

        self.labels_, self.cluster_centers_ = _relabel_by_size(Z, labels)
        self.n_clusters_ = len(self.cluster_centers_)
        self.cluster_sizes_ = np.bincount(
            self.labels_[self.labels_ >= 0], minlength=self.n_clusters_
        )
        clustered = self.labels_ >= 0
        self.noise_share_ = float(1.0 - clustered.mean())
        diffs = Z[clustered] - self.cluster_centers_[self.labels_[clustered]]
        self.inertia_ = float((diffs**2).sum())
        self.silhouette_ = self._silhouette(Z, self.labels_)
        # The no-structure baseline: the same cluster sizes dealt out at random.
        shuffled = np.random.default_rng(self.random_state).permutation(self.labels_)
        self.random_silhouette_ = self._silhouette(Z, shuffled)
        self.davies_bouldin_ = (
            float(davies_bouldin_score(Z[clustered], self.labels_[clustered]))
            if 2 <= self.n_clusters_ < clustered.sum()
            else math.nan
        )
        report(1.0, f"{self.n_clusters_} segments")
        return self

    def _silhouette_sample(self, n: int) -> np.ndarray:
        if n <= self.silhouette_sample_size:
            return np.arange(n)
        rng = np.random.default_rng(self.random_state)
        return np.sort(rng.choice(n, size=self.silhouette_sample_size, replace=False))

    def _silhouette(self, Z: np.ndarray, labels: np.ndarray) -> float:
        """Silhouette on the fixed sample, noise left out; NaN when it is undefined."""
        sample_labels = labels[self.silhouette_sample_]
        keep = sample_labels >= 0
        points, sample_labels = Z[self.silhouette_sample_][keep], sample_labels[keep]
        n_labels = len(np.unique(sample_labels))
        if n_labels < 2 or n_labels >= len(sample_labels):
            return math.nan
        return float(silhouette_score(points, sample_labels))

    def _fit_kmeans(self, Z: np.ndarray, report: ProgressCallback) -> np.ndarray:
        n = Z.shape[0]
        if self.n_clusters is not None:
            ks = [int(self.n_clusters)]
        else:
            if self.k_min < 2 or self.k_max < self.k_min:
                raise ValueError(f"need 2 <= k_min <= k_max, got {self.k_min}..{self.k_max}")
            ks = list(range(self.k_min, min(self.k_max, n - 1) + 1))
        if not ks or ks[0] < 1 or ks[-1] >= n:
            raise ValueError(f"cannot make {ks} clusters of {n} customers")
        fits: dict[int, np.ndarray] = {}
        inertias, silhouettes, min_sizes = [], [], []
        previous, warm_k = None, None
        if self.previous_centers is not None and len(self.previous_centers):
            previous = self.scaler_.transform(self.previous_centers)
        for step, k in enumerate(ks):
            report(0.05 + 0.8 * step / len(ks), f"k-means with K={k}")
            model = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)
            labels, inertia = model.fit_predict(Z), float(model.inertia_)
            if previous is not None and k == len(previous):
                # Started from last time's centres: kept unless clearly worse, so a retraining
                # on much the same customers finds much the same segments.
                warm = KMeans(n_clusters=k, init=previous, n_init=1, random_state=self.random_state)
                warm_labels = warm.fit_predict(Z)
                if warm.inertia_ <= inertia * (1 + self.warm_start_tolerance):
                    labels, inertia, warm_k = warm_labels, float(warm.inertia_), k
            fits[k] = labels
            inertias.append(inertia)
            silhouettes.append(self._silhouette(Z, labels))
            min_sizes.append(int(np.bincount(labels, minlength=k).min()))
        self.k_values_ = np.array(ks)
        self.inertia_by_k_ = np.array(inertias)
        self.silhouette_by_k_ = np.array(silhouettes)
        self.min_size_by_k_ = np.array(min_sizes)
        self.min_share_by_k_ = self.min_size_by_k_ / n
        self.eps_, self.min_samples_ = math.nan, 0
        chosen = self._choose_k()
        self.warm_started_ = chosen == warm_k
        report(0.9, f"K={chosen} chosen")
        labels = fits[chosen]
        if np.bincount(labels).min() < self.min_cluster_size_:
            labels = _merge_small_clusters(Z, labels, self.min_cluster_size_)
        return labels

    def _choose_k(self) -> int:
        """The module doc's rule; sets ``knee_k_``, ``knee_method_`` and ``selection_reason_``."""
        ks = self.k_values_
        self.knee_k_, self.knee_method_ = None, "none"
        if len(ks) == 1:
            self.selection_reason_ = f"K={ks[0]} was fixed"
            return int(ks[0])
        valid = self.min_size_by_k_ >= self.min_cluster_size_
        silhouettes = np.where(np.isnan(self.silhouette_by_k_), -np.inf, self.silhouette_by_k_)
        index, method = knee_index(ks, self.inertia_by_k_, direction="decreasing")
        if not valid.any():
            self.selection_reason_ = (
                f"every K left a cluster under {self.min_cluster_fraction:.0%} of customers; "
                f"K={ks[0]} with its small clusters merged"
            )
            return int(ks[0])
        if index is None:
            best = int(np.argmax(np.where(valid, silhouettes, -np.inf)))
            self.selection_reason_ = (
                f"no elbow in the inertia curve; K={ks[best]} has the best silhouette"
            )
            return int(ks[best])
        knee = int(ks[index])
        self.knee_k_, self.knee_method_ = knee, method
        near = valid & (np.abs(ks - knee) <= self.knee_neighbourhood)
        if not near.any():
            best = int(np.argmax(np.where(valid, silhouettes, -np.inf)))
            self.selection_reason_ = (
                f"elbow at K={knee} ({method}), but no K near it keeps every cluster above "
                f"{self.min_cluster_fraction:.0%}; K={ks[best]} has the best silhouette"
            )
            return int(ks[best])
        best = int(np.argmax(np.where(near, silhouettes, -np.inf)))
        # The incumbent: last run's K when it is still near the elbow (segments the merchant
        # knows, and K-Means noise alone should not reshuffle them), else the elbow itself.
        previous_k = len(self.previous_centers) if self.previous_centers is not None else 0
        incumbent, kept = index, ""
        if previous_k and previous_k != knee and previous_k in ks:
            candidate = int(np.flatnonzero(ks == previous_k)[0])
            if near[candidate]:
                incumbent, kept = candidate, f"K={previous_k} kept from the last run: "
        gain = silhouettes[best] - silhouettes[incumbent]
        if valid[incumbent] and gain <= self.silhouette_tolerance:
            self.selection_reason_ = (
                f"elbow at K={knee} ({method}); {kept}no neighbour's silhouette beats it by "
                f"more than {self.silhouette_tolerance}"
            )
            return int(ks[incumbent])
        self.selection_reason_ = (
            f"elbow at K={knee} ({method}); K={ks[best]} beside it has the best silhouette"
            + ("" if valid[index] else " (the elbow leaves a cluster too small)")
        )
        return int(ks[best])

    def _fit_dbscan(self, Z: np.ndarray, report: ProgressCallback) -> np.ndarray:
        n, d = Z.shape
        self.k_values_ = np.array([], dtype=int)
        self.inertia_by_k_ = self.silhouette_by_k_ = self.min_share_by_k_ = np.array([])
        self.min_size_by_k_ = np.array([], dtype=int)
        self.warm_started_ = False
        self.knee_k_, self.knee_method_ = None, "none"
        min_samples = int(self.min_samples or 2 * d)
        self.min_samples_ = min(min_samples, n - 1)
        if self.eps is not None:
            eps, how = float(self.eps), "given"
        else:
            report(0.1, "k-distance curve")
            eps, how = self._eps_from_k_distance(Z)
        self.eps_ = eps
        report(0.4, f"DBSCAN with eps={eps:.3g}")
        labels = DBSCAN(eps=eps, min_samples=self.min_samples_).fit_predict(Z)
        # A DBSCAN cluster below the minimum size is a clump of outliers: call it noise.
        sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.array([])
        small = np.flatnonzero(sizes < self.min_cluster_size_)
        labels = np.where(np.isin(labels, small), -1, labels)
        self.selection_reason_ = (
            f"DBSCAN, eps {eps:.3g} ({how}), min_samples {self.min_samples_}; "
            f"{(labels < 0).mean():.1%} of customers are noise"
        )
        return labels

    def _eps_from_k_distance(self, Z: np.ndarray) -> tuple[float, str]:
        neighbours = NearestNeighbors(n_neighbors=self.min_samples_).fit(Z)
        # The point itself is its first neighbour, as DBSCAN counts it in min_samples.
        distances = np.sort(neighbours.kneighbors(Z)[0][:, -1])
        # The knee of a long curve is found on an even subsample of it (same shape, far faster).
        grid = np.unique(np.linspace(0, len(distances) - 1, min(len(distances), 2000)).astype(int))
        curve = distances[grid]
        index, method = knee_index(np.arange(len(curve)), curve, direction="increasing")
        if index is None or curve[index] <= 0:
            return float(np.quantile(distances, 0.9)) or 1.0, "90th percentile k-distance"
        return float(curve[index]), f"k-distance knee, {method}"

    # -- after fitting --

    def predict(self, X) -> np.ndarray:
        """The nearest cluster centre of each row (for DBSCAN: ignoring noise)."""
        Z = self.scaler_.transform(X)
        return cdist(Z, self.cluster_centers_).argmin(axis=1)

    def transform(self, X) -> np.ndarray:
        """``X`` in the scaled space the clusters live in."""
        return self.scaler_.transform(X)

    def curves(self) -> dict[str, list]:
        """The per-K curves as plain lists (JSON-ready; NaN silhouettes become None)."""
        return {
            "k": [int(k) for k in self.k_values_],
            "inertia": [round(float(v), 4) for v in self.inertia_by_k_],
            "silhouette": [
                None if math.isnan(v) else round(float(v), 4) for v in self.silhouette_by_k_
            ],
            "min_cluster_share": [round(float(v), 4) for v in self.min_share_by_k_],
        }


def _relabel_by_size(Z: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels renumbered 0.. by size (largest first; ties by old label), and member means."""
    kept = np.unique(labels[labels >= 0])
    sizes = np.array([(labels == label).sum() for label in kept])
    order = kept[np.lexsort((kept, -sizes))]
    mapping = np.full(labels.max() + 2 if len(labels) else 1, -1)
    mapping[order] = np.arange(len(order))
    new_labels = np.where(labels >= 0, mapping[np.maximum(labels, 0)], -1)
    centres = np.array([Z[new_labels == c].mean(axis=0) for c in range(len(order))])
    return new_labels, centres.reshape(len(order), Z.shape[1])


def _merge_small_clusters(Z: np.ndarray, labels: np.ndarray, min_size: int) -> np.ndarray:
    """Dissolve clusters below ``min_size`` one at a time (smallest first) into the nearest
    remaining centres, recomputing the centres after each, until none is too small."""
    labels = labels.copy()
    while True:
        present = np.unique(labels)
        sizes = np.array([(labels == c).sum() for c in present])
        if len(present) <= 1 or sizes.min() >= min_size:
            return labels
        smallest = present[np.argmin(sizes)]
        others = present[present != smallest]
        centres = np.array([Z[labels == c].mean(axis=0) for c in others])
        members = labels == smallest
        labels[members] = others[cdist(Z[members], centres).argmin(axis=1)]


# --- RFM scores and names ----------------------------------------------------------------------


def _scores_against(values, reference, *, higher_is_better: bool) -> np.ndarray:
    """Score 1..5 of each value by the share of ``reference`` it beats strictly.

    Ties share the lowest score of their group: when half the customers ordered once, all of
    them score F1, none is promoted above the others by an arbitrary tie-break.
    """
    ordered = np.sort(np.asarray(reference, dtype=np.float64))
    x = np.asarray(values, dtype=np.float64)
    if higher_is_better:
        beaten = np.searchsorted(ordered, x, side="left")
    else:  # fewer days since the last order beats more
        beaten = len(ordered) - np.searchsorted(ordered, x, side="right")
    share = beaten / max(len(ordered), 1)
    return np.clip(np.floor(share * 5).astype(int) + 1, 1, 5)


def quintile_scores(values, *, higher_is_better: bool = True) -> np.ndarray:
    """Quintile scores 1..5 within ``values``: the share of the others each one beats.

    Tied values share a score (the lowest of their group); with ``higher_is_better=False``
    (recency in days) the smallest values score 5.
    """
    return _scores_against(values, values, higher_is_better=higher_is_better)


def rfm_scores(recency_days, frequency, monetary) -> np.ndarray:
    """Each customer's (R, F, M) quintile scores, shape (n, 3); R is 5 for the most recent."""
    return np.column_stack(
        [
            quintile_scores(recency_days, higher_is_better=False),
            quintile_scores(frequency),
            quintile_scores(monetary),
        ]
    )


def centroid_rfm_scores(centroids, population) -> np.ndarray:
    """(R, F, M) scores of cluster centroids, placed among the customers' own values.

    Parameters
    ----------
    centroids : array, shape (k, 3)
        Recency days, frequency and monetary of each cluster's centroid in feature units.
    population : array, shape (n, 3)
        The same three columns for every customer.

    A centroid scores by where it would rank among the customers, by the rule of
    :func:`quintile_scores`; averaging the members' scores instead would pull every cluster
    towards 3 and lose the champions.
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    population = np.asarray(population, dtype=np.float64)
    return np.column_stack(
        [
            _scores_against(
                centroids[:, column], population[:, column], higher_is_better=column != 0
            )
            for column in range(3)
        ]
    ).reshape(len(centroids), 3)


# The standard RFM segment map on (R, FM) with FM the mean of F and M, rounded half up.
# Rows are R = 1..5, columns FM = 1..5.
_RFM_GRID: tuple[tuple[str, ...], ...] = (
    ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    ("Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Loyal"),
    ("New", "Potential loyalists", "Potential loyalists", "Champions", "Champions"),
)


def rfm_segment_name(recency: int, frequency: int, monetary: int) -> str:
    """The RFM segment name of one (R, F, M) score triple, each 1..5."""
    r = int(np.clip(recency, 1, 5))
    fm = int(np.clip(math.floor((frequency + monetary) / 2 + 0.5), 1, 5))
    return _RFM_GRID[r - 1][fm - 1]


# Words that tell two clusters of one RFM name apart, by the feature where they differ most.
_FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "recency_days": ("recent", "lapsing"),
    "frequency": ("fewer orders", "frequent"),
    "monetary": ("lower spend", "higher spend"),
    "purchase_count": ("fewer items", "more items"),
    "browse_count": ("light browsers", "heavy browsers"),
    "average_basket": ("small baskets", "big baskets"),
    "return_rate": ("few returns", "returners"),
    "tenure_days": ("newer", "long-standing"),
}


def unique_segment_names(
    base_names: Sequence[str],
    centroids,
    feature_names: Sequence[str],
    *,
    reserved: Sequence[str] = (),
) -> list[str]:
    """Names for the clusters, unique among themselves and against ``reserved``.

    Clusters that share a base name are told apart by the feature whose (scaled) centroids
    differ most between them: "At risk · higher spend" and "At risk · lower spend" for two,
    numbered along that feature for three or more. Anything still clashing gets " (2)", " (3)".
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    names = list(base_names)
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(base_names):
        groups.setdefault(name, []).append(index)
    for name, members in groups.items():
        if len(members) < 2:
            continue
        spread = np.ptp(centroids[members], axis=0)
        feature = int(np.argmax(spread))
        feature_name = feature_names[feature]
        low, high = _FEATURE_WORDS.get(
            feature_name, (f"low {feature_name}", f"high {feature_name}")
        )
        ordered = sorted(members, key=lambda i: (centroids[i, feature], i))
        if len(members) == 2:
            names[ordered[0]], names[ordered[1]] = f"{name} · {low}", f"{name} · {high}"
        else:
            for position, index in enumerate(ordered, start=1):
                names[index] = f"{name} · {high} {position}/{len(members)}"
    taken = set(reserved)
    unique = []
    for name in names:
        candidate, suffix = name, 2
        while candidate in taken:
            candidate, suffix = f"{name} ({suffix})", suffix + 1
        taken.add(candidate)
        unique.append(candidate)
    return unique


# --- stable identity and projection --------------------------------------------------------------


@dataclass(frozen=True)
class SegmentMatch:
    """For each new cluster: the previous cluster it continues (``-1``: none) and how far."""

    previous_index: np.ndarray  # int, shape (k_new,)
    distance: np.ndarray  # float, NaN where unmatched

    def is_matched(self, index: int) -> bool:
        return bool(self.previous_index[index] >= 0)


def match_segments(previous_centroids, new_centroids, *, max_distance: float) -> SegmentMatch:
    """Match new clusters to the previous run's by centroid, one to one (Hungarian).

    Both centroid sets must be in one space (the new run's scaled space: transform the
    previous centroids, kept in feature units, with the new scaler). The assignment minimises
    the total Euclidean distance; a pair farther apart than ``max_distance`` is not a match,
    so a genuinely new cluster gets a new identity instead of inheriting an unrelated one.
    """
    new = np.asarray(new_centroids, dtype=np.float64)
    previous = np.asarray(previous_centroids, dtype=np.float64)
    matched = np.full(len(new), -1, dtype=int)
    distance = np.full(len(new), np.nan)
    if len(new) == 0 or len(previous) == 0:
        return SegmentMatch(matched, distance)
    cost = cdist(new, previous)
    rows, cols = linear_sum_assignment(cost)
    for row, col in zip(rows, cols, strict=True):
        if cost[row, col] <= max_distance:
            matched[row], distance[row] = col, cost[row, col]
    return SegmentMatch(matched, distance)


def project_2d(Z, *, random_state: int | None = 0) -> tuple[np.ndarray, PCA]:
    """Customers (scaled) on their first two principal components, and the fitted PCA."""
    Z = _as_matrix(Z)
    components = min(2, Z.shape[1], Z.shape[0])
    pca = PCA(n_components=components, random_state=random_state).fit(Z)
    coords = pca.transform(Z)
    if components < 2:
        coords = np.column_stack([coords, np.zeros((len(coords), 2 - components))])
    return coords, pca
