"""The segmentation engine on seeded data: no database, no Django."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from mining.engine.segmentation import (
    FEATURE_NAMES,
    CustomerSegmentation,
    FeatureScaler,
    centroid_rfm_scores,
    knee_index,
    match_segments,
    project_2d,
    quintile_scores,
    rfm_scores,
    rfm_segment_name,
    unique_segment_names,
)

# One thread: on a shared CI box, OpenMP threads fighting for cores slow K-Means ten-fold.
FAST = {"n_threads": 1, "n_init": 4}


def _blobs(centers: int, *, n: int = 900, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian blobs in 8 features, shifted to be non-negative like ours."""
    X, y = make_blobs(
        n_samples=n, centers=centers, n_features=8, cluster_std=1.0, random_state=seed
    )
    return X + 30.0, y


# --- choosing K ----------------------------------------------------------------------------------


@pytest.mark.parametrize("planted", [3, 4, 5])
def test_kmeans_finds_the_planted_number_of_clusters(planted):
    X, truth = _blobs(planted)

    model = CustomerSegmentation(random_state=0, **FAST).fit(X)

    assert model.n_clusters_ == planted
    assert model.knee_k_ == planted
    assert adjusted_rand_score(truth, model.labels_) == pytest.approx(1.0)
    # The silhouette curve peaks at the planted K too, and the choice says why.
    assert int(model.k_values_[np.argmax(model.silhouette_by_k_)]) == planted
    assert model.selection_reason_.startswith(f"elbow at K={planted}")


def test_every_k_is_recorded_with_inertia_and_silhouette():
    X, _ = _blobs(4)

    model = CustomerSegmentation(k_min=2, k_max=8, random_state=0, **FAST).fit(X)

    curves = model.curves()
    assert curves["k"] == [2, 3, 4, 5, 6, 7, 8]
    assert (
        len(curves["inertia"]) == len(curves["silhouette"]) == len(curves["min_cluster_share"]) == 7
    )
    # Inertia falls with K; the chosen K's inertia is the model's.
    assert all(a > b for a, b in zip(curves["inertia"], curves["inertia"][1:], strict=False))
    assert model.inertia_ == pytest.approx(curves["inertia"][2], rel=1e-6)
    assert model.silhouette_ == pytest.approx(max(curves["silhouette"]), abs=1e-4)
    assert model.silhouette_ > 0.6
    assert model.random_silhouette_ < 0.0  # the same sizes dealt out at random: no structure
    assert 0 < model.davies_bouldin_ < 0.6


def test_the_silhouette_is_sampled_with_a_fixed_seed_for_large_n():
    X, _ = _blobs(3, n=1500)
    params = {"silhouette_sample_size": 500, "k_max": 5, "random_state": 0, **FAST}

    first = CustomerSegmentation(**params).fit(X)
    second = CustomerSegmentation(**params).fit(X)

    assert len(first.silhouette_sample_) == 500
    np.testing.assert_array_equal(first.silhouette_sample_, second.silhouette_sample_)
    np.testing.assert_array_equal(first.silhouette_by_k_, second.silhouette_by_k_)


def test_a_fixed_k_skips_the_search():
    X, _ = _blobs(4)

    model = CustomerSegmentation(n_clusters=2, random_state=0, **FAST).fit(X)

    assert model.n_clusters_ == 2
    assert list(model.k_values_) == [2]
    assert model.selection_reason_ == "K=2 was fixed"


def test_the_knee_of_a_clean_elbow_by_kneedle_and_by_the_chord():
    ks = [2, 3, 4, 5, 6, 7, 8]
    inertia = [1000, 600, 200, 180, 165, 150, 140]

    assert knee_index(ks, inertia) == (2, "kneedle")
    # The documented fallback: deepest point under the chord of the normalised curve.
    straight = [1000, 900, 800, 700, 600, 500, 400]
    assert knee_index(ks, straight)[0] is None


# --- outliers --------------------------------------------------------------------------------


def _with_outliers() -> tuple[np.ndarray, int]:
    X, _ = _blobs(3, n=600, seed=5)
    outliers = np.full((3, 8), 30.0)
    outliers[:, 2] = [5_000, 8_000, 20_000]  # three customers who spend a fortune
    return np.vstack([X, outliers]), len(X)


def test_outliers_do_not_get_a_cluster_of_their_own():
    X, _ = _with_outliers()

    model = CustomerSegmentation(random_state=0, **FAST).fit(X)

    assert model.n_clusters_ == 3
    assert model.cluster_sizes_.min() >= 0.01 * len(X)
    assert sorted(model.cluster_sizes_.tolist()) == [200, 200, 203]


def test_without_clipping_and_minimum_size_the_outliers_would_form_a_cluster():
    # The control for the test above: it is the safeguards, not luck, that absorb them.
    X, n_inliers = _with_outliers()

    model = CustomerSegmentation(clip=None, min_cluster_fraction=0.0, random_state=0, **FAST).fit(X)

    outlier_labels = set(model.labels_[n_inliers:].tolist())
    assert len(outlier_labels) == 1
    assert model.cluster_sizes_[outlier_labels.pop()] == 3


def test_the_minimum_cluster_size_rules_out_a_k_with_a_tiny_cluster():
    X, _ = _with_outliers()

    model = CustomerSegmentation(clip=None, random_state=0, **FAST).fit(X)

    assert model.n_clusters_ == 3
    assert model.cluster_sizes_.min() >= 7  # 1% of 603 customers, rounded up
    assert "leaves a cluster too small" in model.selection_reason_


def test_the_scaler_logs_skewed_columns_and_clips_extremes():
    rng = np.random.default_rng(0)
    spend = rng.lognormal(3, 1.2, size=500)
    spend[0] = 1e7
    X = np.column_stack([spend, rng.normal(50, 5, size=500)])

    scaler = FeatureScaler(clip=4.0).fit(X)
    Z = scaler.transform(X)

    assert scaler.log_mask_.tolist() == [True, False]
    assert Z.max() == pytest.approx(4.0)
    np.testing.assert_allclose(scaler.inverse_transform(Z[1:]), X[1:], rtol=1e-9)
    restored = FeatureScaler.from_arrays(scaler.to_arrays())
    np.testing.assert_array_equal(restored.transform(X), Z)


# --- DBSCAN ----------------------------------------------------------------------------------


def test_dbscan_finds_the_blobs_and_labels_scattered_customers_noise():
    X, truth = _blobs(3, n=600, seed=5)
    rng = np.random.default_rng(1)
    scattered = rng.uniform(X.min(axis=0) - 6, X.max(axis=0) + 6, size=(12, 8))
    X = np.vstack([X, scattered])

    model = CustomerSegmentation(algorithm="dbscan", **FAST).fit(X)

    assert model.n_clusters_ == 3
    assert (model.labels_ == -1).sum() >= 10
    assert model.noise_share_ == pytest.approx((model.labels_ == -1).mean())
    assert adjusted_rand_score(truth, model.labels_[:600]) > 0.95
    assert model.eps_ > 0
    assert model.min_samples_ == 16  # 2 x 8 features
    assert "noise" in model.selection_reason_
    assert model.silhouette_ > 0.5  # on the clustered customers; noise is left out


def test_dbscan_with_an_eps_too_small_leaves_everyone_noise():
    X, _ = _blobs(3, n=300)

    model = CustomerSegmentation(algorithm="dbscan", eps=1e-6, **FAST).fit(X)

    assert model.n_clusters_ == 0
    assert model.noise_share_ == 1.0
    assert np.isnan(model.silhouette_)


# --- RFM scores and names ----------------------------------------------------------------------


def test_quintile_scores_give_ties_one_score():
    assert quintile_scores([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).tolist() == [
        1, 1, 2, 2, 3, 3, 4, 4, 5, 5
    ]  # fmt: skip
    # Half the customers ordered once: they all get the lowest score of their group.
    assert quintile_scores([1, 1, 1, 1, 2, 3, 5, 8]).tolist() == [1, 1, 1, 1, 3, 4, 4, 5]
    # Fewer days since the last order is better.
    assert quintile_scores([5, 50, 500, 10, 1], higher_is_better=False).tolist() == [
        4, 2, 1, 3, 5
    ]  # fmt: skip


def test_rfm_scores_per_customer():
    recency = [1, 10, 100, 400, 30]
    frequency = [12, 5, 2, 1, 3]
    monetary = [900.0, 300.0, 80.0, 20.0, 150.0]

    assert rfm_scores(recency, frequency, monetary).tolist() == [
        [5, 5, 5],
        [4, 4, 4],
        [2, 2, 2],
        [1, 1, 1],
        [3, 3, 3],
    ]


@pytest.mark.parametrize(
    ("scores", "name"),
    [
        ((5, 5, 5), "Champions"),
        ((5, 4, 4), "Champions"),
        ((4, 5, 4), "Loyal"),
        ((3, 4, 5), "Loyal"),
        ((5, 1, 1), "New"),
        ((4, 1, 1), "Promising"),
        ((5, 2, 3), "Potential loyalists"),
        ((3, 3, 3), "Need attention"),
        ((3, 1, 2), "About to sleep"),
        ((2, 4, 3), "At risk"),
        ((1, 5, 5), "Can't lose them"),
        ((1, 1, 2), "Hibernating"),
    ],
)
def test_rfm_segment_names_follow_the_standard_map(scores, name):
    assert rfm_segment_name(*scores) == name


def test_cluster_names_from_hand_made_centroids():
    # Customers: recency days, orders, spend.
    # Recency 1..100 days; half ordered once, the rest 2..51 times; spend 0..99.
    population = np.column_stack([range(1, 101), [1] * 50 + list(range(2, 52)), range(100)])
    centroids = np.array(
        [
            [3.0, 40.0, 95.0],  # ordered lately, often, a lot
            [95.0, 1.0, 5.0],  # long ago, once, little
            [4.0, 1.0, 4.0],  # just arrived
            [90.0, 45.0, 97.0],  # was a big customer, gone quiet
        ]
    )

    scores = centroid_rfm_scores(centroids, population)

    assert scores.tolist() == [[5, 5, 5], [1, 1, 1], [5, 1, 1], [1, 5, 5]]
    assert [rfm_segment_name(*s) for s in scores] == [
        "Champions",
        "Hibernating",
        "New",
        "Can't lose them",
    ]


def test_clusters_sharing_a_name_get_telling_suffixes():
    names = ["At risk", "Champions", "At risk", "New"]
    centroids = np.zeros((4, len(FEATURE_NAMES)))
    centroids[0, 2], centroids[2, 2] = 1.5, -0.5  # they differ most in spend

    unique = unique_segment_names(names, centroids, FEATURE_NAMES, reserved=["New"])

    assert unique == ["At risk · higher spend", "Champions", "At risk · lower spend", "New (2)"]
    assert len(set(unique)) == 4


# --- stable identity -------------------------------------------------------------------------


def test_matching_keeps_identities_when_clusters_are_permuted_and_refitted():
    X, _ = _blobs(4, n=800)
    first = CustomerSegmentation(random_state=0, **FAST).fit(X)
    order = np.random.default_rng(7).permutation(len(X))

    # The same customers in another order, another seed: the label numbers come out differently.
    second = CustomerSegmentation(random_state=11, **FAST).fit(X[order])
    previous_in_feature_units = first.scaler_.inverse_transform(first.cluster_centers_)
    match = match_segments(
        second.scaler_.transform(previous_in_feature_units),
        second.cluster_centers_,
        max_distance=1.0,
    )

    assert (match.previous_index >= 0).all()
    assert np.nanmax(match.distance) < 0.05
    # Each matched cluster holds exactly the customers of the one it continues.
    for new_label, old_label in enumerate(match.previous_index.tolist()):
        new_members = set(order[second.labels_ == new_label].tolist())
        old_members = set(np.flatnonzero(first.labels_ == old_label).tolist())
        assert new_members == old_members


def _centres_in_feature_units(model: CustomerSegmentation) -> np.ndarray:
    return model.scaler_.inverse_transform(model.cluster_centers_)


def test_a_retraining_starts_from_last_runs_centres():
    X, _ = _blobs(4, n=800)
    first = CustomerSegmentation(random_state=0, **FAST).fit(X)

    second = CustomerSegmentation(
        random_state=11, previous_centers=_centres_in_feature_units(first), **FAST
    ).fit(X)

    assert second.warm_started_
    # Started from the old centres, the labels come out in the same order too.
    np.testing.assert_array_equal(second.labels_, first.labels_)


def test_a_retraining_keeps_last_runs_k_when_the_silhouettes_are_close():
    # Six blobs, two of them overlapping: the elbow says 5, K=6 scores as well (0.660 vs 0.662).
    X, _ = _blobs(6)
    fresh = CustomerSegmentation(random_state=0, **FAST).fit(X)
    six = CustomerSegmentation(n_clusters=6, random_state=0, **FAST).fit(X)
    two = CustomerSegmentation(n_clusters=2, random_state=0, **FAST).fit(X)

    kept = CustomerSegmentation(
        random_state=0, previous_centers=_centres_in_feature_units(six), **FAST
    ).fit(X)
    far = CustomerSegmentation(
        random_state=0, previous_centers=_centres_in_feature_units(two), **FAST
    ).fit(X)

    assert fresh.n_clusters_ == 5
    assert kept.n_clusters_ == 6
    assert kept.selection_reason_ == (
        "elbow at K=5 (kneedle); K=6 kept from the last run: no neighbour's silhouette beats "
        "it by more than 0.02"
    )
    assert far.n_clusters_ == 5  # K=2 is far from the elbow: last run's K does not count


def test_a_cluster_beyond_the_threshold_is_new():
    previous = np.array([[0.0, 0.0], [5.0, 5.0]])
    new = np.array([[5.2, 4.9], [0.1, -0.1], [-6.0, 8.0]])

    match = match_segments(previous, new, max_distance=1.0)

    assert match.previous_index.tolist() == [1, 0, -1]
    assert match.distance[0] == pytest.approx(np.hypot(0.2, 0.1))
    assert np.isnan(match.distance[2])
    assert not match.is_matched(2)


def test_the_projection_is_two_dimensional_and_centred():
    X, _ = _blobs(3, n=300)
    Z = FeatureScaler().fit_transform(X)

    coords, pca = project_2d(Z, random_state=0)

    assert coords.shape == (300, 2)
    np.testing.assert_allclose(coords.mean(axis=0), 0.0, atol=1e-9)
    assert pca.explained_variance_ratio_.sum() > 0.5


def test_the_estimator_follows_scikit_learn_conventions():
    from sklearn.base import clone

    model = CustomerSegmentation(k_max=6, random_state=3, **FAST)

    assert clone(model).get_params()["k_max"] == 6
    assert not [name for name in vars(model) if name.endswith("_")]  # nothing fitted yet
    X, _ = _blobs(3, n=300)
    assert model.fit(X, **{}) is model
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    with pytest.raises(ValueError, match="algorithm"):
        CustomerSegmentation(algorithm="spectral").fit(X)
