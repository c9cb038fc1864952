"""The contract every recommender keeps (recommendations.engine.base.Recommender).

One parametrised set of tests; a new implementation joins by adding a line to
``IMPLEMENTATIONS``.
"""

from collections.abc import Callable

import numpy as np
import pytest
from scipy import sparse

from recommendations.engine import (
    ALSRecommender,
    BPRRecommender,
    ContentRecommender,
    EASERecommender,
    HybridRecommender,
    ItemKNNRecommender,
    NotFittedError,
    PopularityRecommender,
    Recommender,
    UserKNNRecommender,
)

N_USERS, N_ITEMS, K = 40, 30, 5
COLD_USER = 0

IMPLEMENTATIONS: dict[str, Callable[[], Recommender]] = {
    "popularity": PopularityRecommender,
    "popularity-by-weight": lambda: PopularityRecommender(count="weight"),
    "item-knn-cosine": lambda: ItemKNNRecommender(n_neighbours=10),
    "item-knn-pearson": lambda: ItemKNNRecommender(10, "pearson", shrinkage=2.0),
    "user-knn-cosine": lambda: UserKNNRecommender(n_neighbours=10),
    "user-knn-pearson": lambda: UserKNNRecommender(10, "pearson", shrinkage=2.0),
    "content": ContentRecommender,
    "als": lambda: ALSRecommender(factors=8, iterations=5, random_state=7),
    "bpr": lambda: BPRRecommender(factors=8, iterations=20, random_state=7),
    "ease": lambda: EASERecommender(l2=10.0),
    "hybrid": lambda: HybridRecommender(
        [
            ("item-knn", ItemKNNRecommender(n_neighbours=10)),
            ("als", ALSRecommender(factors=8, iterations=5, random_state=7)),
            ("content", ContentRecommender()),
        ],
        weights={"item-knn": 0.5, "als": 0.3, "content": 0.2},
    ),
    "hybrid-rank": lambda: HybridRecommender(
        [
            ("item-knn", ItemKNNRecommender(n_neighbours=10)),
            ("ease", EASERecommender(l2=10.0)),
        ],
        weights={"item-knn": 0.5, "ease": 0.5},
        normalisation="rank",
    ),
}

COLOURS = ("red", "blue", "green", "black", "white")
KINDS = ("mug", "candle", "lantern", "bag", "card", "frame")


def _interactions() -> sparse.csr_matrix:
    rng = np.random.default_rng(42)
    dense = (rng.random((N_USERS, N_ITEMS)) < 0.2) * rng.integers(1, 6, (N_USERS, N_ITEMS))
    dense[COLD_USER] = 0
    dense[1, :] = 0
    dense[1, : N_ITEMS - 2] = 1  # a user who has seen all but two items
    return sparse.csr_matrix(dense.astype(np.float64))


INTERACTIONS = _interactions()
ITEM_TEXTS = [
    {"name": f"{COLOURS[i % 5]} {KINDS[i % 6]}", "category": KINDS[i % 6], "description": "gift"}
    for i in range(N_ITEMS)
]
WARM_USERS = [2, 3, 10, 25, 39]


@pytest.fixture(params=sorted(IMPLEMENTATIONS), scope="module")
def name(request):
    return request.param


@pytest.fixture(scope="module")
def fitted(name):
    return IMPLEMENTATIONS[name]().fit(INTERACTIONS, item_features=ITEM_TEXTS)


def test_fit_returns_self(name):
    model = IMPLEMENTATIONS[name]()

    assert model.fit(INTERACTIONS, item_features=ITEM_TEXTS) is model


def test_recommend_returns_k_unseen_items_sorted_by_score(fitted):
    for user in WARM_USERS:
        items, scores = fitted.recommend(user, K)

        seen = set(INTERACTIONS[user].indices)
        assert items.shape == scores.shape == (K,)
        assert items.dtype.kind == "i"
        assert len(set(items.tolist())) == K
        assert seen.isdisjoint(items.tolist())
        assert np.all((items >= 0) & (items < N_ITEMS))
        assert np.all(np.diff(scores) <= 0)
        assert np.all(np.isfinite(scores))


def test_recommend_can_include_seen_items(fitted):
    items, scores = fitted.recommend(1, K, exclude_seen=False)

    assert items.shape == (K,)
    assert np.all(np.diff(scores) <= 0)


def test_recommend_returns_fewer_items_when_few_are_unseen(fitted):
    items, _ = fitted.recommend(1, K)

    assert sorted(items.tolist()) == [N_ITEMS - 2, N_ITEMS - 1]


def test_recommend_batch_matches_recommend_and_pads(fitted):
    users = [*WARM_USERS, 1]

    items, scores = fitted.recommend_batch(users, K)

    assert items.shape == scores.shape == (len(users), K)
    for row, user in enumerate(WARM_USERS):
        single_items, single_scores = fitted.recommend(user, K)
        np.testing.assert_array_equal(items[row], single_items)
        np.testing.assert_allclose(scores[row], single_scores)
    assert items[-1, 2:].tolist() == [-1] * (K - 2)
    assert np.all(np.isneginf(scores[-1, 2:]))


def test_fitting_twice_with_the_same_random_state_gives_the_same_recommendations(name):
    first = IMPLEMENTATIONS[name]().fit(INTERACTIONS, item_features=ITEM_TEXTS)
    second = IMPLEMENTATIONS[name]().fit(INTERACTIONS, item_features=ITEM_TEXTS)

    for user in WARM_USERS:
        np.testing.assert_array_equal(first.recommend(user, K)[0], second.recommend(user, K)[0])
        np.testing.assert_array_equal(first.recommend(user, K)[1], second.recommend(user, K)[1])


def test_similar_items_excludes_the_item_itself(fitted):
    for item in (0, 7, N_ITEMS - 1):
        items, scores = fitted.similar_items(item, K)

        assert items.shape == scores.shape == (K,)
        assert item not in items.tolist()
        assert len(set(items.tolist())) == K
        assert np.all(np.diff(scores) <= 0)


def test_save_and_load_round_trip_gives_identical_recommendations(fitted, tmp_path):
    fitted.save(tmp_path / "model")

    loaded = Recommender.load(tmp_path / "model")
    loaded_by_class = type(fitted).load(tmp_path / "model")

    assert type(loaded) is type(fitted)
    assert loaded.get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
    all_users = np.arange(N_USERS)
    for model in (loaded, loaded_by_class):
        expected_items, expected_scores = fitted.recommend_batch(all_users, K)
        items, scores = model.recommend_batch(all_users, K)
        np.testing.assert_array_equal(items, expected_items)
        np.testing.assert_array_equal(scores, expected_scores)
        np.testing.assert_array_equal(model.similar_items(3, K)[0], fitted.similar_items(3, K)[0])


def test_artifacts_hold_no_pickles(fitted, tmp_path):
    fitted.save(tmp_path)

    for path in tmp_path.rglob("*.npz"):
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                assert archive[key].dtype != object


def test_load_refuses_an_artifact_of_another_class(fitted, tmp_path):
    fitted.save(tmp_path)
    other = EASERecommender if not isinstance(fitted, EASERecommender) else ALSRecommender

    with pytest.raises(TypeError, match="holds a"):
        other.load(tmp_path)


def test_a_user_with_no_interactions_gets_the_most_popular_items(fitted):
    # Distinct users per item; a popularity model serves its own ranking (by weight, say).
    popularity = np.bincount(INTERACTIONS.indices, minlength=N_ITEMS).astype(float)
    if isinstance(fitted, PopularityRecommender):
        popularity = fitted.item_scores_

    items, _ = fitted.recommend(COLD_USER, K)

    assert popularity[items].tolist() == sorted(popularity, reverse=True)[:K]


def test_unknown_users_and_items_are_refused(fitted):
    with pytest.raises(IndexError):
        fitted.recommend(N_USERS, K)
    with pytest.raises(IndexError):
        fitted.recommend(-1, K)
    with pytest.raises(IndexError):
        fitted.similar_items(N_ITEMS, K)
    with pytest.raises(ValueError, match="k must be"):
        fitted.recommend(2, 0)


def test_an_unfitted_recommender_refuses_to_recommend_or_save(name, tmp_path):
    model = IMPLEMENTATIONS[name]()

    with pytest.raises(NotFittedError):
        model.recommend(0, K)
    with pytest.raises(NotFittedError):
        model.save(tmp_path)


def test_negative_weights_are_refused(name):
    bad = INTERACTIONS.copy()
    bad.data[0] = -1.0

    with pytest.raises(ValueError, match="negative"):
        IMPLEMENTATIONS[name]().fit(bad, item_features=ITEM_TEXTS)
