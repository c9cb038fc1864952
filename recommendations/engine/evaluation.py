"""Offline evaluation: top-k ranking metrics, train/test splits and a comparison table.

Metrics take ``recommended`` (one ranked list of item indices per user) and ``relevant``
(one non-empty collection of item indices per user) and return the mean over users. Only the
first ``k`` recommendations count; a repeated item counts once (at its first rank); negative
indices (padding from ``recommend_batch``) are never relevant.

* precision@k = hits in top k / k
* recall@k = hits in top k / |relevant|
* NDCG@k = DCG / IDCG, binary relevance, ``DCG = sum_hits 1 / log2(rank + 1)`` and the ideal
  DCG from ``min(|relevant|, k)`` hits at ranks 1, 2, ...
* MAP@k: ``AP@k = sum over hit ranks r of precision@r / min(|relevant|, k)``
* hit rate@k: share of users with at least one hit in the top k
* catalogue coverage: distinct recommended items / number of items
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse

from .base import Recommender
from .interactions import EventRows

__all__ = [
    "TemporalSplit",
    "catalogue_coverage",
    "evaluate",
    "format_table",
    "hit_rate_at_k",
    "map_at_k",
    "ndcg_at_k",
    "ndcg_from_hits",
    "precision_at_k",
    "random_split_per_user",
    "recall_at_k",
    "relevant_items",
    "temporal_split",
]

METRIC_COLUMNS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")


# -- metrics -----------------------------------------------------------------------------


def _hits(
    recommended: Sequence[Sequence[int]], relevant: Sequence[Collection[int]], k: int
) -> list[tuple[list[bool], int]]:
    """Per user: a hit flag for each of the first k ranks, and |relevant|."""
    if int(k) != k or k < 1:
        raise ValueError("k must be a positive integer")
    if len(recommended) != len(relevant):
        raise ValueError("recommended and relevant need one entry per user")
    if not recommended:
        raise ValueError("no users to evaluate")
    out = []
    for ranked, wanted in zip(recommended, relevant, strict=True):
        wanted_set = {int(item) for item in wanted}
        if not wanted_set:
            raise ValueError("every user needs at least one relevant item")
        found: set[int] = set()
        flags = []
        for item in list(ranked)[: int(k)]:
            item = int(item)
            is_hit = item >= 0 and item in wanted_set and item not in found
            if is_hit:
                found.add(item)
            flags.append(is_hit)
        out.append((flags, len(wanted_set)))
    return out


def precision_at_k(
    recommended: Sequence[Sequence[int]], relevant: Sequence[Collection[int]], k: int
) -> float:
    """Mean of (hits in the top k) / k."""
    return float(np.mean([sum(flags) / k for flags, _ in _hits(recommended, relevant, k)]))


def recall_at_k(
    recommended: Sequence[Sequence[int]], relevant: Sequence[Collection[int]], k: int
) -> float:
    """Mean of (hits in the top k) / |relevant|."""
    return float(np.mean([sum(flags) / n for flags, n in _hits(recommended, relevant, k)]))


def _dcg(flags: Sequence[bool]) -> float:
    return sum(1.0 / np.log2(rank + 2) for rank, flag in enumerate(flags) if flag)


def ndcg_at_k(
    recommended: Sequence[Sequence[int]], relevant: Sequence[Collection[int]], k: int
) -> float:
    """Mean NDCG@k with binary relevance and a log2 discount."""
    values = [
        _dcg(flags) / _dcg([True] * min(n, k)) for flags, n in _hits(recommended, relevant, k)
    ]
    return float(np.mean(values))


def map_at_k(
    recommended: Sequence[Sequence[int]], relevant: Sequence[Collection[int]], k: int
) -> float:
    """Mean average precision at k (AP normalised by min(|relevant|, k))."""
    values = []
    for flags, n in _hits(recommended, relevant, k):
        hits_so_far = 0
        total = 0.0
        for rank, flag in enumerate(flags, start=1):
            if flag:
                hits_so_far += 1
                total += hits_so_far / rank
        values.append(total / min(n, k))
    return float(np.mean(values))


def hit_rate_at_k(
    recommended: Sequence[Sequence[int]], relevant: Sequence[Collection[int]], k: int
) -> float:
    """Share of users with at least one relevant item in the top k."""
    return float(np.mean([any(flags) for flags, _ in _hits(recommended, relevant, k)]))


def catalogue_coverage(recommended: Sequence[Sequence[int]], n_items: int, k: int) -> float:
    """Distinct items in anyone's top k / ``n_items``."""
    if n_items < 1:
        raise ValueError("n_items must be positive")
    distinct = {int(item) for ranked in recommended for item in list(ranked)[:k] if item >= 0}
    return len(distinct) / n_items


def ndcg_from_hits(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Vectorised per-user NDCG: ``hits`` is a boolean (n_users, k) matrix of unique hits
    by rank, ``n_relevant`` the users' relevant counts. Same definition as
    :func:`ndcg_at_k`."""
    hits = np.asarray(hits, dtype=bool)
    k = hits.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(n_relevant, k)]
    dcg = hits.astype(np.float64) @ discounts
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


# -- splits ------------------------------------------------------------------------------


class TemporalSplit(NamedTuple):
    train: EventRows
    test: EventRows
    cutoff: float


def temporal_split(rows: EventRows, test_fraction: float, *, by: str = "time") -> TemporalSplit:
    """Train on the past, test on the last period, by one global time cut-off.

    ``by="time"``: the cut-off leaves the last ``test_fraction`` of the time span for test;
    ``by="rows"``: it leaves (about) the last ``test_fraction`` of the rows. Train rows are
    strictly before the cut-off, test rows at or after it, so no test event is visible in
    train; test rows of users without any train row are dropped (nothing to personalise
    from). Returns ``(train, test, cutoff)`` with ``cutoff`` in POSIX seconds.
    """
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be in (0, 1)")
    if len(rows) == 0:
        raise ValueError("no rows to split")
    times = rows.timestamps
    if by == "time":
        start, stop = float(times.min()), float(times.max())
        cutoff = start + (1.0 - test_fraction) * (stop - start)
    elif by == "rows":
        cutoff = float(np.quantile(times, 1.0 - test_fraction, method="higher"))
    else:
        raise ValueError("by must be 'time' or 'rows'")
    in_train = times < cutoff
    train_users = np.unique(rows.users[in_train])
    in_test = ~in_train & np.isin(rows.users, train_users)
    return TemporalSplit(rows.subset(in_train), rows.subset(in_test), cutoff)


def random_split_per_user(
    interactions: sparse.spmatrix, test_fraction: float, random_state: int | None = None
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Hold out ``test_fraction`` of each user's items, at random (stratified by user).

    A user with ``n >= 2`` items gives ``min(n - 1, max(1, round_half_up(f * n)))`` of them to
    test, so every test user keeps training history; a user with one item keeps it in train.
    Returns ``(train, test)``: CSR matrices of the input's shape whose entries partition it.
    """
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be in (0, 1)")
    matrix = sparse.csr_matrix(interactions, dtype=np.float64, copy=True)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    counts = np.diff(matrix.indptr)
    n_test = np.minimum(counts - 1, np.maximum(1, np.floor(test_fraction * counts + 0.5)))
    n_test = np.where(counts >= 2, n_test, 0).astype(np.int64)
    rng = np.random.default_rng(random_state)
    entry_rows = np.repeat(np.arange(matrix.shape[0]), counts)
    order = np.lexsort((rng.random(matrix.nnz), entry_rows))
    rank = np.empty(matrix.nnz, np.int64)
    rank[order] = np.arange(matrix.nnz) - matrix.indptr[entry_rows[order]]
    to_test = rank < n_test[entry_rows]
    test = matrix.copy()
    test.data = np.where(to_test, matrix.data, 0.0)
    train = matrix.copy()
    train.data = np.where(to_test, 0.0, matrix.data)
    test.eliminate_zeros()
    train.eliminate_zeros()
    return train, test


def relevant_items(
    train: sparse.spmatrix, test: sparse.spmatrix, *, exclude_seen: bool = True
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Users to evaluate and each one's relevant items.

    A user counts when they have training history and at least one positive test item
    (with ``exclude_seen``, one not already in their training row: a seen item can never be
    recommended, so it cannot be a hit).
    """
    train = sparse.csr_matrix(train)
    positive = sparse.csr_matrix(test > 0, dtype=np.int8)
    if exclude_seen:
        positive = sparse.csr_matrix(positive - positive.multiply(train > 0))
        positive.eliminate_zeros()
    users = np.flatnonzero((np.diff(positive.indptr) > 0) & (np.diff(train.indptr) > 0))
    relevant = [positive.indices[positive.indptr[u] : positive.indptr[u + 1]] for u in users]
    return users, relevant


# -- comparison table --------------------------------------------------------------------


def evaluate(
    recommenders: Mapping[str, Recommender],
    train: sparse.spmatrix,
    test: sparse.spmatrix,
    k: int = 10,
    *,
    item_features: Any = None,
    exclude_seen: bool = True,
) -> list[dict[str, Any]]:
    """Fit every recommender on ``train`` and score its top-k lists against ``test``.

    Returns one row per recommender: ``name``, the metrics of :data:`METRIC_COLUMNS`,
    ``fit_seconds``, ``recommend_seconds`` and ``users`` (how many were evaluated, see
    :func:`relevant_items`).
    """
    users, relevant = relevant_items(train, test, exclude_seen=exclude_seen)
    if users.size == 0:
        raise ValueError("no test user has training history and a relevant test item")
    n_items = train.shape[1]
    rows = []
    for name, recommender in recommenders.items():
        started = time.perf_counter()
        recommender.fit(train, item_features=item_features)
        fitted = time.perf_counter()
        indices, _ = recommender.recommend_batch(users, k, exclude_seen=exclude_seen)
        done = time.perf_counter()
        ranked = indices.tolist()
        rows.append(
            {
                "name": name,
                "precision": precision_at_k(ranked, relevant, k),
                "recall": recall_at_k(ranked, relevant, k),
                "ndcg": ndcg_at_k(ranked, relevant, k),
                "map": map_at_k(ranked, relevant, k),
                "hit_rate": hit_rate_at_k(ranked, relevant, k),
                "coverage": catalogue_coverage(ranked, n_items, k),
                "fit_seconds": fitted - started,
                "recommend_seconds": done - fitted,
                "users": int(users.size),
            }
        )
    return rows


def format_table(rows: Sequence[Mapping[str, Any]], k: int = 10) -> str:
    """A fixed-width text table of :func:`evaluate` rows."""
    headers = [
        "recommender",
        f"prec@{k}",
        f"recall@{k}",
        f"ndcg@{k}",
        f"map@{k}",
        f"hit@{k}",
        "coverage",
        "fit s",
    ]
    width = max([len(headers[0]), *(len(str(row["name"])) for row in rows)])
    out = [f"{headers[0]:<{width}}  " + "  ".join(f"{h:>9}" for h in headers[1:])]
    for row in rows:
        cells = [f"{row[column]:9.4f}" for column in METRIC_COLUMNS]
        cells.append(f"{row['fit_seconds']:9.2f}")
        out.append(f"{row['name']!s:<{width}}  " + "  ".join(cells))
    return "\n".join(out)
