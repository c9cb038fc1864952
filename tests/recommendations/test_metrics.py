"""Ranking metrics pinned on hand-worked examples, and the train/test splits."""

import math

import numpy as np
import pytest
from scipy import sparse

from recommendations.engine import EventRows, ItemKNNRecommender, PopularityRecommender
from recommendations.engine.evaluation import (
    catalogue_coverage,
    evaluate,
    format_table,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    ndcg_from_hits,
    precision_at_k,
    random_split_per_user,
    recall_at_k,
    relevant_items,
    temporal_split,
)

# Hits at ranks 2 and 4 of 4, three relevant items (9 is never recommended).
ONE = ([[1, 2, 3, 4]], [{2, 4, 9}])


def test_precision_at_k():
    assert precision_at_k(*ONE, k=4) == 0.5
    assert precision_at_k(*ONE, k=2) == 0.5
    assert precision_at_k(*ONE, k=1) == 0.0
    # the denominator stays k when fewer than k items are recommended
    assert precision_at_k([[2]], [{2}], k=4) == 0.25


def test_recall_at_k():
    assert recall_at_k(*ONE, k=4) == pytest.approx(2 / 3)
    assert recall_at_k(*ONE, k=2) == pytest.approx(1 / 3)


def test_ndcg_at_k():
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # min(|relevant| = 3, k = 4) hits

    assert ndcg_at_k(*ONE, k=4) == pytest.approx(dcg / ideal)
    # k = 2: ideal has min(3, 2) = 2 hits
    assert ndcg_at_k(*ONE, k=2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert ndcg_at_k([[5, 6]], [{5}], k=2) == 1.0


def test_map_at_k():
    # AP@4 = (1/2 + 2/4) / min(3, 4)
    assert map_at_k(*ONE, k=4) == pytest.approx(1 / 3)
    # AP@2 = (1/2) / min(3, 2)
    assert map_at_k(*ONE, k=2) == pytest.approx(0.25)
    assert map_at_k([[5, 6, 7]], [{5, 7}], k=3) == pytest.approx((1 / 1 + 2 / 3) / 2)


def test_hit_rate_at_k():
    recommended = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    relevant = [{3}, {1}, {7, 10}]

    assert hit_rate_at_k(recommended, relevant, k=3) == pytest.approx(2 / 3)
    assert hit_rate_at_k(recommended, relevant, k=1) == pytest.approx(1 / 3)


def test_metrics_average_over_users():
    recommended = [[1, 2, 3, 4], [5, 6, 7, 8]]
    relevant = [{2, 4, 9}, {5}]

    assert precision_at_k(recommended, relevant, k=4) == pytest.approx((0.5 + 0.25) / 2)
    assert recall_at_k(recommended, relevant, k=4) == pytest.approx((2 / 3 + 1) / 2)
    assert map_at_k(recommended, relevant, k=4) == pytest.approx((1 / 3 + 1) / 2)


def test_a_repeated_item_counts_once_and_padding_never_hits():
    assert precision_at_k([[1, 1, -1, 2]], [{1}], k=4) == 0.25
    assert ndcg_at_k([[1, 1]], [{1, 3}], k=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_catalogue_coverage():
    assert catalogue_coverage([[0, 1], [1, 2]], n_items=10, k=2) == pytest.approx(0.3)
    assert catalogue_coverage([[0, 1], [1, 2]], n_items=10, k=1) == pytest.approx(0.2)
    assert catalogue_coverage([[0, -1], [-1, -1]], n_items=4, k=2) == 0.25


def test_metrics_refuse_users_without_relevant_items_and_bad_input():
    with pytest.raises(ValueError, match="relevant item"):
        precision_at_k([[1]], [set()], k=1)
    with pytest.raises(ValueError, match="one entry per user"):
        recall_at_k([[1], [2]], [{1}], k=1)
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k([[1]], [{1}], k=0)


def test_vectorised_ndcg_matches_the_list_version():
    recommended = [[1, 2, 3, 4], [5, 6, 7, 8], [0, 9, 8, 7]]
    relevant = [{2, 4, 9}, {5}, {1, 3}]
    hits = np.array(
        [[item in rel for item in row] for row, rel in zip(recommended, relevant, strict=True)]
    )

    per_user = ndcg_from_hits(hits, np.array([len(rel) for rel in relevant]))

    assert per_user.mean() == pytest.approx(ndcg_at_k(recommended, relevant, k=4))


# -- splits ------------------------------------------------------------------------------


def _rows() -> EventRows:
    # user, item, day: user 2 only appears in the last period.
    events = [
        (0, 0, 0),
        (0, 1, 30),
        (0, 2, 95),
        (1, 1, 10),
        (1, 3, 89.9),
        (1, 0, 90),
        (2, 4, 96),
        (0, 1, 100),
    ]
    users, items, days = zip(*events, strict=True)
    return EventRows.from_arrays(users, items, np.array(days) * 86_400.0)


def _pairs(rows: EventRows) -> list[tuple[int, int]]:
    return sorted(zip(rows.users.tolist(), rows.items.tolist(), strict=True))


def test_temporal_split_cuts_the_last_part_of_the_time_span():
    split = temporal_split(_rows(), 0.1)

    assert split.cutoff == pytest.approx(90 * 86_400.0)
    assert _pairs(split.train) == [
        (0, 0),
        (0, 1),
        (1, 1),
        (1, 3),
    ]
    # user 2 has no training history: their test rows are dropped
    assert _pairs(split.test) == [
        (0, 1),
        (0, 2),
        (1, 0),
    ]


def test_temporal_split_never_shows_a_test_event_in_train():
    rng = np.random.default_rng(3)
    rows = EventRows.from_arrays(
        rng.integers(0, 50, 2_000), rng.integers(0, 80, 2_000), rng.uniform(0, 1e7, 2_000)
    )

    split = temporal_split(rows, 0.2)

    assert split.train.timestamps.max() < split.cutoff <= split.test.timestamps.min()
    assert set(split.test.users.tolist()) <= set(split.train.users.tolist())
    assert len(split.train) + len(split.test) <= len(rows)
    assert split.cutoff == pytest.approx(
        rows.timestamps.min() + 0.8 * (rows.timestamps.max() - rows.timestamps.min())
    )


def test_temporal_split_by_rows_leaves_the_last_share_of_rows():
    rows = EventRows.from_arrays(np.zeros(10, int), np.arange(10), np.arange(10.0))

    split = temporal_split(rows, 0.3, by="rows")

    assert split.test.items.tolist() == [7, 8, 9]


def test_random_split_per_user_is_stratified_by_user():
    counts = [10, 1, 2, 3, 5, 0]
    dense = np.zeros((len(counts), 12))
    for user, count in enumerate(counts):
        dense[user, :count] = np.arange(1, count + 1)
    matrix = sparse.csr_matrix(dense)

    train, test = random_split_per_user(matrix, 0.2, random_state=0)

    # round_half_up(0.2 n), at least 1 and at most n - 1
    assert np.diff(test.indptr).tolist() == [2, 0, 1, 1, 1, 0]
    assert np.diff(train.indptr).tolist() == [8, 1, 1, 2, 4, 0]
    assert (train + test != matrix).nnz == 0
    assert train.multiply(test).nnz == 0


def test_random_split_per_user_is_reproducible():
    matrix = sparse.random(30, 40, density=0.3, random_state=1, format="csr")

    first = random_split_per_user(matrix, 0.25, random_state=5)
    second = random_split_per_user(matrix, 0.25, random_state=5)
    other = random_split_per_user(matrix, 0.25, random_state=6)

    assert (first[1] != second[1]).nnz == 0
    assert (first[1] != other[1]).nnz > 0


def test_relevant_items_leave_out_seen_items_and_users_without_history():
    train = sparse.csr_matrix(np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0]], float))
    test = sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 1, 0]], float))

    users, relevant = relevant_items(train, test)

    assert users.tolist() == [0]
    assert [r.tolist() for r in relevant] == [[1]]


def test_evaluate_returns_one_row_per_recommender_with_fit_time():
    rng = np.random.default_rng(0)
    matrix = sparse.csr_matrix((rng.random((60, 25)) < 0.3).astype(float))
    train, test = random_split_per_user(matrix, 0.3, random_state=0)
    models = {"popularity": PopularityRecommender(), "item-knn": ItemKNNRecommender(10)}

    rows = evaluate(models, train, test, k=5)

    assert [row["name"] for row in rows] == ["popularity", "item-knn"]
    for row in rows:
        assert row["fit_seconds"] >= 0
        assert 0 <= row["ndcg"] <= 1
        assert row["users"] == relevant_items(train, test)[0].size
    table = format_table(rows, k=5)
    assert table.splitlines()[0].split()[:4] == ["recommender", "prec@5", "recall@5", "ndcg@5"]
    assert len(table.splitlines()) == 3
