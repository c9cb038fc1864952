"""Each recommender against hand-computed values, and all of them on planted structure."""

import datetime as dt
import inspect
import math
from typing import ClassVar

import numpy as np
import pytest
from scipy import sparse

from recommendations.engine import (
    ALSRecommender,
    BPRRecommender,
    ContentRecommender,
    EASERecommender,
    EventRows,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommender,
    UserKNNRecommender,
    interaction_matrix,
    tune_hybrid_weights,
)
from recommendations.engine.evaluation import evaluate, random_split_per_user
from recommendations.engine.hybrid import normalise_scores

DAY = 86_400.0

# 4 users x 3 items, weighted.
X = sparse.csr_matrix(np.array([[2, 1, 0], [1, 0, 3], [0, 1, 1], [4, 2, 2]], dtype=float))


# -- interaction matrix --------------------------------------------------------------------


def test_event_weights_add_up_per_cell():
    rows = EventRows.from_arrays(
        users=[0, 0, 0, 1, 1],
        items=[0, 0, 1, 1, 1],
        timestamps=[0.0, 1.0, 2.0, 3.0, 4.0],
        event_types=["view", "purchase", "cart", "click", "view"],
    )

    matrix = interaction_matrix(rows, n_users=2, n_items=2)

    assert matrix.toarray().tolist() == [[6.0, 3.0], [0.0, 2.0]]


def test_time_decay_halves_an_event_each_half_life():
    now = dt.datetime(2024, 3, 31, tzinfo=dt.UTC)
    rows = EventRows.from_arrays(
        users=[0, 0, 0],
        items=[0, 1, 2],
        timestamps=[now, now - dt.timedelta(days=10), now - dt.timedelta(days=30)],
        event_types="purchase",
    )

    matrix = interaction_matrix(rows, n_users=1, n_items=3, half_life_days=10)
    later = interaction_matrix(
        rows, n_users=1, n_items=3, half_life_days=10, reference_time=now + dt.timedelta(days=10)
    )

    np.testing.assert_allclose(matrix.toarray(), [[5.0, 2.5, 0.625]])
    np.testing.assert_allclose(later.toarray(), [[2.5, 1.25, 0.3125]])


def test_returns_are_subtracted_and_fully_returned_items_removed():
    rows = EventRows.from_arrays(
        users=[0, 0, 0, 0],
        items=[0, 0, 1, 1],
        timestamps=[0.0, 1.0, 0.0, 1.0],
        event_types=["purchase", "purchase", "purchase", "return"],
        quantities=[3, 1, 2, 2],
        is_return=[False, True, False, False],
    )

    subtracted = interaction_matrix(rows, n_users=1, n_items=2)
    ignored = interaction_matrix(rows, n_users=1, n_items=2, returns="ignore")

    # item 0: 3 bought, 1 returned -> 2 x 5; item 1: all returned -> no entry
    assert subtracted.toarray().tolist() == [[10.0, 0.0]]
    assert subtracted.nnz == 1
    assert ignored.toarray().tolist() == [[15.0, 10.0]]


def test_log1p_transform_and_custom_weights():
    rows = EventRows.from_records([(0, 0, "view", 0.0), (0, 1, "wish", 1.0, 2)])

    matrix = interaction_matrix(
        rows, n_users=1, n_items=2, event_weights={"view": 1, "wish": 2}, transform="log1p"
    )

    np.testing.assert_allclose(matrix.toarray(), [[math.log(2), math.log(5)]])


def test_interaction_matrix_refuses_bad_input():
    rows = EventRows.from_arrays([0], [0], [0.0], "wish")
    with pytest.raises(ValueError, match="no weight"):
        interaction_matrix(rows, n_users=1, n_items=1)
    with pytest.raises(ValueError, match="outside"):
        interaction_matrix(EventRows.from_arrays([3], [0], [0.0]), n_users=1, n_items=1)
    with pytest.raises(ValueError, match="naive"):
        EventRows.from_arrays([0], [0], [dt.datetime(2024, 1, 1)])


# -- neighbourhood ----------------------------------------------------------------------------


def test_item_knn_cosine_equals_hand_computed_values():
    # item columns (2,1,0,4), (1,0,1,2), (0,3,1,2); squared norms 21, 6, 14
    model = ItemKNNRecommender(n_neighbours=5, similarity="cosine").fit(X)

    expected = np.array(
        [
            [0, 10 / math.sqrt(21 * 6), 11 / math.sqrt(21 * 14)],
            [10 / math.sqrt(21 * 6), 0, 5 / math.sqrt(6 * 14)],
            [11 / math.sqrt(21 * 14), 5 / math.sqrt(6 * 14), 0],
        ]
    )
    np.testing.assert_allclose(model.similarity_.toarray(), expected)


def test_item_knn_pearson_is_the_adjusted_cosine():
    # user means 1.5, 2, 1, 8/3 -> centred item columns (.5,-1,0,4/3), (-.5,0,0,-2/3),
    # (0,1,0,-2/3): only items 1 and 2 correlate positively, (4/9) / (5/6 * sqrt(13)/3).
    model = ItemKNNRecommender(n_neighbours=5, similarity="pearson").fit(X)

    expected = np.zeros((3, 3))
    expected[1, 2] = expected[2, 1] = 8 / (5 * math.sqrt(13))
    np.testing.assert_allclose(model.similarity_.toarray(), expected)


def test_item_knn_scores_are_weighted_sums_of_neighbour_similarities():
    model = ItemKNNRecommender(n_neighbours=5).fit(X)

    items, scores = model.recommend(2, 1)  # user 2 has items 1 (w=1) and 2 (w=1)

    assert items.tolist() == [0]
    assert scores[0] == pytest.approx(10 / math.sqrt(126) + 11 / math.sqrt(294))


def test_item_knn_keeps_only_the_top_neighbours():
    model = ItemKNNRecommender(n_neighbours=1).fit(X)

    assert np.diff(model.similarity_.indptr).tolist() == [1, 1, 1]
    assert model.similarity_.indices.tolist() == [1, 0, 0]


def test_shrinkage_discounts_similarities_with_few_common_users():
    # items 0 and 1: one common user, cosine 1. Items 2 and 3: four common users, cosine
    # just under 1. Shrinkage 5 puts the well-supported pair first.
    matrix = sparse.csr_matrix(
        np.array(
            [
                [1, 1, 0, 0],
                [0, 0, 1, 1],
                [0, 0, 1, 1],
                [0, 0, 1, 1],
                [0, 0, 1, 2],
            ],
            dtype=float,
        )
    )
    cosine_23 = 5 / math.sqrt(4 * 7)

    plain = ItemKNNRecommender(n_neighbours=3).fit(matrix).similarity_.toarray()
    shrunk = ItemKNNRecommender(n_neighbours=3, shrinkage=5).fit(matrix).similarity_.toarray()

    assert plain[0, 1] == pytest.approx(1.0)
    assert plain[2, 3] == pytest.approx(cosine_23)
    assert shrunk[0, 1] == pytest.approx(1 * 1 / (1 + 5))
    assert shrunk[2, 3] == pytest.approx(cosine_23 * 4 / (4 + 5))
    assert plain[0, 1] > plain[2, 3]
    assert shrunk[0, 1] < shrunk[2, 3]


def test_user_knn_cosine_equals_hand_computed_values():
    model = UserKNNRecommender(n_neighbours=5).fit(X)

    # users (2,1,0) and (4,2,2): 10 / (sqrt(5) sqrt(24))
    assert model.similarity_[0, 3] == pytest.approx(10 / math.sqrt(5 * 24))
    # users (2,1,0) and (1,0,3): 2 / (sqrt(5) sqrt(10))
    assert model.similarity_[0, 1] == pytest.approx(2 / math.sqrt(50))


# -- EASE ---------------------------------------------------------------------------------


def test_ease_equals_the_closed_form():
    l2 = 3.0
    model = EASERecommender(l2=l2).fit(X)

    dense = X.toarray()
    precision = np.linalg.inv(dense.T @ dense + l2 * np.eye(3))
    closed_form = np.eye(3) - precision @ np.diag(1 / np.diag(precision))
    np.testing.assert_allclose(model.weights_, closed_form, atol=1e-12)
    np.testing.assert_array_equal(np.diag(model.weights_), 0.0)
    np.testing.assert_allclose(model._score_batch(np.arange(4)), dense @ closed_form)


def test_ease_refuses_catalogues_above_its_limit():
    with pytest.raises(ValueError, match="max_items=2"):
        EASERecommender(max_items=2).fit(X)


# -- content ------------------------------------------------------------------------------

CATALOGUE = [
    {"name": "red cotton shirt", "category": "shirts", "description": "soft cotton"},
    {"name": "blue denim jeans", "category": "trousers", "description": "denim"},
    {"name": "red silk shirt", "category": "shirts", "description": "silk"},
    {"name": "garden hose", "category": "garden", "description": "green rubber hose"},
    {"name": "ceramic mug", "category": "kitchen", "attributes": {"colour": "white"}},
]


def test_content_finds_the_textually_closest_item():
    interactions = sparse.csr_matrix(np.eye(5))
    model = ContentRecommender().fit(interactions, item_features=CATALOGUE)

    similar, _ = model.similar_items(0, 1)
    recommended, _ = model.recommend(0, 1)

    assert similar.tolist() == [2]
    assert recommended.tolist() == [2]


def test_content_profile_is_the_weighted_mean_of_item_vectors():
    interactions = sparse.csr_matrix(np.array([[3.0, 1.0, 0, 0, 0]]))
    model = ContentRecommender().fit(interactions, item_features=CATALOGUE)

    vectors = model.item_vectors_.toarray()
    profile = (3 * vectors[0] + vectors[1]) / 4
    np.testing.assert_allclose(model._score_batch(np.array([0]))[0], vectors @ profile)


def test_content_needs_one_text_per_item():
    with pytest.raises(ValueError, match="item_features"):
        ContentRecommender().fit(X)
    with pytest.raises(ValueError, match="one entry per item"):
        ContentRecommender().fit(X, item_features=["a", "b"])


# -- popularity ---------------------------------------------------------------------------


def test_segment_popularity_ranks_within_the_users_segment():
    matrix = sparse.csr_matrix(
        np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 0]], dtype=float)
    )
    segments = np.array([0, 0, 1, 1, -1])

    model = PopularityRecommender(segment_shrinkage=0).fit(matrix, user_segments=segments)

    np.testing.assert_allclose(model.segment_scores_, [[1, 0, 0], [0, 1, 0.5]])
    assert model.recommend(3, 1, exclude_seen=False)[0].tolist() == [1]
    assert model.recommend(0, 1, exclude_seen=False)[0].tolist() == [0]
    # outside every segment: the global ranking (items 0 and 1 tie at 2 users each)
    assert model.recommend(4, 2)[0].tolist() == [0, 1]


# -- hybrid -------------------------------------------------------------------------------


class _FixedScores(Recommender):
    """A stand-in member whose scores are given: item i scores ``scores[i]`` for everyone."""

    _fitted_attributes: ClassVar[tuple[str, ...]] = ("scores_",)

    def __init__(self, scores=()):
        self.scores = scores

    def fit(self, interactions, *, item_features=None):
        self._fit_interactions(interactions)
        self.scores_ = np.asarray(self.scores, dtype=float)
        return self

    def _score_batch(self, user_indices):
        return np.tile(self.scores_, (len(user_indices), 1))


def _hybrid_fixture():
    train = sparse.csr_matrix(np.hstack([np.ones((6, 6)), np.zeros((6, 4))]))  # seen 0-5
    members = {
        "a": _FixedScores(np.arange(10, 0, -1)).fit(train),  # ranks 6 > 7 > 8 > 9
        "b": _FixedScores(np.arange(1, 11)).fit(train),  # ranks 9 > 8 > 7 > 6
    }
    return train, members


def test_hybrid_tuning_follows_the_validation_matrix_it_is_given():
    train, members = _hybrid_fixture()
    low_items = sparse.lil_matrix((6, 10))
    high_items = sparse.lil_matrix((6, 10))
    for user in range(6):
        low_items[user, 6] = 1
        high_items[user, 9] = 1

    favour_a = tune_hybrid_weights(members, low_items.tocsr(), k=3)
    favour_b = tune_hybrid_weights(members, high_items.tocsr(), k=3)

    assert favour_a.weights == {"a": 1.0, "b": 0.0}
    assert favour_b.weights == {"a": 0.0, "b": 1.0}
    assert favour_b.ndcg == pytest.approx(1.0)
    # the tuner is never handed a test split: its only data argument is the validation matrix
    data_arguments = [
        name
        for name, parameter in inspect.signature(tune_hybrid_weights).parameters.items()
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY
    ]
    assert data_arguments == ["recommenders", "validation"]


def test_hybrid_tuning_finds_a_blend_when_members_each_miss():
    train = sparse.csr_matrix(np.eye(4, 6))  # user u has seen item u
    # a ranks 4 > 5 > ..., b ranks 5 > 4 > ...; the blend at 1:1 puts 4 and 5 in the top 2
    members = {
        "a": _FixedScores([0, 0, 0, 0, 3, 0]).fit(train),
        "b": _FixedScores([0, 0, 0, 1, 0, 2]).fit(train),
    }
    validation = sparse.csr_matrix(np.tile([0, 0, 0, 0, 1, 1.0], (4, 1)))

    result = tune_hybrid_weights(members, validation, k=2)

    assert result.ndcg > max(result.member_ndcg.values())


def test_hybrid_blends_normalised_member_scores():
    train, members = _hybrid_fixture()
    hybrid = HybridRecommender(
        [("a", members["a"]), ("b", _FixedScores([0, 0, 0, 0, 0, 0, 5, 1, 1, 1]))],
        weights={"a": 1.0, "b": 2.0},
    ).fit(train)

    candidates = np.ones((1, 10), bool)
    candidates[0, :6] = False
    expected = normalise_scores(np.arange(10, 0, -1)[None], candidates) + 2 * normalise_scores(
        np.array([[0, 0, 0, 0, 0, 0, 5, 1, 1, 1]]), candidates
    )
    np.testing.assert_allclose(hybrid._score_batch(np.array([0])), expected)
    assert hybrid.recommend(0, 1)[0].tolist() == [6]


def test_normalise_scores():
    scores = np.array([[1.0, 2.0, 3.0, 100.0]])
    mask = np.array([[True, True, True, False]])

    np.testing.assert_allclose(normalise_scores(scores, mask, "minmax"), [[0.0, 0.5, 1.0, 49.5]])
    z = normalise_scores(scores, mask, "zscore")
    np.testing.assert_allclose(z[0, :3], np.array([-1, 0, 1]) / math.sqrt(2 / 3))
    np.testing.assert_array_equal(normalise_scores(np.ones((1, 3)), None), [[0, 0, 0]])


def test_rank_normalisation_is_reciprocal_rank_with_shared_ranks_for_ties():
    scores = np.array([[1.0, 2.0, 3.0, 100.0, 0.0, 0.0]])
    mask = np.array([[True, True, True, False, True, True]])

    ranks = 1 / normalise_scores(scores, mask, "rank") - 60

    # candidates by score (the two zeros tie at rank 4), then the seen item
    np.testing.assert_allclose(ranks, [[3, 2, 1, 6, 4, 4]])


def test_a_blend_of_fitted_members_equals_fitting_the_blend():
    train, members = _hybrid_fixture()
    pairs = [("a", members["a"]), ("b", _FixedScores([0, 0, 0, 0, 0, 0, 5, 1, 1, 1]))]
    weights = {"a": 1.0, "b": 2.0}
    fitted = HybridRecommender(pairs, weights=weights, normalisation="rank").fit(train)

    reused = HybridRecommender.from_fitted(
        fitted.recommenders_, weights=weights, normalisation="rank"
    )

    users = np.arange(train.shape[0])
    np.testing.assert_array_equal(
        reused.recommend_batch(users, 3)[0], fitted.recommend_batch(users, 3)[0]
    )
    with pytest.raises(ValueError, match="same training matrix"):
        HybridRecommender.from_fitted(
            [("a", fitted.recommenders_[0][1]), ("c", ItemKNNRecommender().fit(train[:2]))]
        )


# -- planted structure ----------------------------------------------------------------------

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
STYLES = ("small", "large", "classic", "modern")


def _planted(n_users=300, per_group=15, per_user=10, noise=0.15, seed=0):
    """Users each belong to one of six taste groups and mostly buy from its 15 items
    (Zipf-like within the group), with a little globally popular noise. Item text names
    the group, so content-based models can see it too."""
    rng = np.random.default_rng(seed)
    n_items = len(WORDS) * per_group
    groups = rng.integers(0, len(WORDS), n_users)
    global_share = rng.zipf(1.5, n_items).astype(float)
    global_share /= global_share.sum()
    within = 1.0 / np.arange(1, per_group + 1) ** 0.8
    rows, cols, weights = [], [], []
    for user, group in enumerate(groups):
        share = np.zeros(n_items)
        share[group * per_group : (group + 1) * per_group] = within / within.sum()
        share = (1 - noise) * share + noise * global_share
        items = rng.choice(n_items, size=per_user, replace=False, p=share)
        rows += [user] * per_user
        cols += items.tolist()
        weights += rng.integers(1, 4, per_user).tolist()
    matrix = sparse.csr_matrix((np.array(weights, float), (rows, cols)), shape=(n_users, n_items))
    texts = [
        f"{WORDS[i // per_group]} {WORDS[i // per_group]}ware item{i} {rng.choice(STYLES)}"
        for i in range(n_items)
    ]
    return matrix, texts


def test_every_learned_recommender_beats_popularity_on_planted_structure():
    matrix, texts = _planted()
    train, test = random_split_per_user(matrix, 0.3, random_state=0)
    learned = {
        "item-knn": ItemKNNRecommender(20),
        "item-knn-pearson": ItemKNNRecommender(20, "pearson", shrinkage=2.0),
        "user-knn": UserKNNRecommender(30),
        "user-knn-pearson": UserKNNRecommender(30, "pearson"),
        "content": ContentRecommender(),
        "als": ALSRecommender(16, 0.1, iterations=10, random_state=0),
        "bpr": BPRRecommender(16, 0.05, iterations=50, random_state=0),
        "ease": EASERecommender(50.0),
        "hybrid": HybridRecommender(
            [("ease", EASERecommender(50.0)), ("content", ContentRecommender())]
        ),
    }

    rows = evaluate(
        {"popularity": PopularityRecommender(), **learned}, train, test, 10, item_features=texts
    )

    ndcg = {row["name"]: row["ndcg"] for row in rows}
    assert ndcg["popularity"] == pytest.approx(0.2295, abs=5e-4)
    for name in learned:
        assert ndcg[name] > 2 * ndcg["popularity"], (name, ndcg)
