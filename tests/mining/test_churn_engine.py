"""The churn engine without a database: exact labels and features, no leakage, pruning, models
against baselines, and the numpy export that serves the chosen model."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from mining.engine.churn import (
    DAY,
    FEATURE_NAMES,
    PrunedTreeClassifier,
    RecencyRule,
    TreeEnsemble,
    churn_cutoffs,
    churn_dataset,
    churn_features,
    churn_history,
    churn_models_evaluate,
    churn_reasons,
    tree_ensemble_export,
    tree_rules,
)

CUTOFF = datetime(2024, 7, 1, tzinfo=UTC)
# The synthetic shop's cut-offs, in days from its start (time 0).
TRAIN_DAY, TEST_DAY = 540, 630


def at(days: float) -> datetime:
    return CUTOFF + timedelta(days=days)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Gradient boosting's OpenMP threads only fight each other on a small, shared machine."""
    with threadpool_limits(1):
        yield


def synthetic_shop(*, customers: int = 800, seed: int = 0):
    """Order and event rows (times in epoch seconds) with a known churn signal.

    Every customer orders at their own rate; a third are "unhappy": they return 40% of their
    orders and stop buying at a random day around the two cut-offs, their orders thinning out in
    the 60 days before. The return rate, the thinning and the order rate all carry signal that
    recency alone does not.
    """
    rng = np.random.default_rng(seed)
    orders, events = [], []
    for customer in range(1, customers + 1):
        join = rng.uniform(0, 400)
        rate = np.exp(rng.normal(np.log(1 / 20), 0.5))
        unhappy = rng.random() < 0.35
        return_chance = 0.4 if unhappy else 0.02
        stop = rng.uniform(450, 700) if unhappy else join + rng.exponential(1 / 0.0008)
        day = join
        while True:
            day += rng.exponential(1 / (rate * (0.3 if stop - day < 60 else 1.0)))
            if day >= min(stop, 720):
                break
            total = round(float(rng.lognormal(3.5, 0.5)), 2)
            orders.append((customer, day * DAY, total, False))
            if rng.random() < return_chance:
                returned_at = (day + rng.uniform(2, 15)) * DAY
                orders.append((customer, returned_at, round(total / 2, 2), True))
            for _ in range(rng.poisson(2)):
                events.append((customer, (day - rng.uniform(0, 2)) * DAY, "view"))
    return orders, events


@pytest.fixture(scope="module")
def shop():
    return churn_history(*synthetic_shop())


@pytest.fixture(scope="module")
def datasets(shop):
    return (
        churn_dataset(shop, cutoff=TRAIN_DAY * DAY, horizon_days=90),
        churn_dataset(shop, cutoff=TEST_DAY * DAY, horizon_days=90),
    )


@pytest.fixture(scope="module")
def evaluation(datasets):
    train, test = datasets
    return churn_models_evaluate(train, test, random_state=0)


# --- labels and features ------------------------------------------------------------------------


def test_labels_are_exact_on_hand_made_orders():
    # given
    orders = [
        (1, at(-10), 20.0, False),
        (1, at(30), 25.0, False),  # bought again within 90 days: stays
        (2, at(-50), 40.0, False),  # nothing after: churned
        (3, at(-20), 15.0, False),
        (3, at(10), 15.0, True),  # a return is not a purchase: churned
        (4, at(-5), 10.0, False),
        (4, at(90), 10.0, False),  # day 90 is outside [cut-off, cut-off + 90 days): churned
        (5, at(-400), 99.0, False),  # no purchase in the year before: not in the population
        (6, at(3), 12.0, False),  # first purchase after the cut-off: not in the population
        (7, at(-100), 30.0, False),
        (7, at(0), 30.0, False),  # exactly at the cut-off is in the label window: stays
    ]

    # when
    dataset = churn_dataset(orders, [], cutoff=CUTOFF, horizon_days=90)

    # then
    assert dataset.customer_ids.tolist() == [1, 2, 3, 4, 7]
    assert dataset.y.tolist() == [0, 1, 1, 1, 0]
    assert dataset.feature_names == FEATURE_NAMES


def test_features_are_exact_on_hand_made_orders_and_events():
    # given
    orders = [
        (1, at(-100), 50.0, False),
        (1, at(-40), 30.0, False),
        (1, at(-35), 10.0, True),
        (1, at(-10), 20.0, False),
        (1, at(5), 500.0, False),  # after the cut-off: read by no feature
    ]
    events = [
        (1, at(-95), "view"),
        (1, at(-5), "view"),
        (1, at(-3), "cart"),
        (1, at(-2), "search"),
        (1, at(1), "view"),  # after the cut-off
    ]

    # when
    features = churn_features(orders, events, cutoff=CUTOFF)

    # then
    assert features.customer_ids.tolist() == [1]
    assert dict(zip(FEATURE_NAMES, features.X[0].round(6).tolist(), strict=True)) == {
        "recency_days": 10.0,
        "tenure_days": 100.0,
        "frequency": 3.0,
        "frequency_90d": 2.0,
        "frequency_trend_90d": 1.0,  # 2 in the last 90 days, 1 in the 90 before
        "monetary": 100.0,
        "monetary_90d": 50.0,
        "monetary_trend_90d": 0.0,
        "average_basket": 33.333333,
        "return_rate": 0.1,
        "mean_days_between_orders": 45.0,
        "overdue_ratio": 0.222222,
        "views_90d": 1.0,
        "cart_adds_90d": 1.0,
        "days_since_last_activity": 2.0,
    }
    assert features.value.tolist() == [90.0]  # spend net of returns in the last year


def test_no_order_or_event_after_the_cut_off_changes_a_feature():
    # given: the synthetic shop, cut at the training cut-off
    orders, events = synthetic_shop(customers=300, seed=3)
    cutoff = TRAIN_DAY * DAY
    before = churn_dataset(orders, events, cutoff=cutoff, horizon_days=90)
    rng = np.random.default_rng(1)

    # when: every row after the cut-off is altered (totals, returns, times within the future)
    # and new customers, orders and events appear after it
    altered_orders = [
        (c, t + rng.uniform(0, 5) * DAY, total * 3, not is_return) if t >= cutoff else row
        for row in orders
        for c, t, total, is_return in [row]
    ]
    altered_orders += [(c, cutoff + rng.uniform(0, 80) * DAY, 999.0, False) for c in range(1, 400)]
    altered_events = [row for row in events if row[1] < cutoff] + [
        (c, cutoff + rng.uniform(0, 200) * DAY, "cart") for c in range(1, 400)
    ]
    after = churn_dataset(altered_orders, altered_events, cutoff=cutoff, horizon_days=90)

    # then: features and population are unchanged; only labels may move
    np.testing.assert_array_equal(after.customer_ids, before.customer_ids)
    np.testing.assert_array_equal(after.X, before.X)
    np.testing.assert_array_equal(after.value, before.value)
    assert after.y.sum() == 0  # everyone now buys in the window
    assert before.y.sum() > 0


def test_changing_the_label_window_changes_only_the_labels():
    # given
    orders, events = synthetic_shop(customers=300, seed=4)
    cutoff = TRAIN_DAY * DAY
    before = churn_dataset(orders, events, cutoff=cutoff, horizon_days=90)

    # when: every purchase inside [cut-off, cut-off + 90 days) is removed, and orders far beyond
    # the window are added
    in_window = [row for row in orders if not row[3] and cutoff <= row[1] < cutoff + 90 * DAY]
    changed = [row for row in orders if row not in in_window]
    changed += [(c, cutoff + 200 * DAY, 50.0, False) for c in before.customer_ids.tolist()]
    after = churn_dataset(changed, events, cutoff=cutoff, horizon_days=90)

    # then
    np.testing.assert_array_equal(after.X, before.X)
    np.testing.assert_array_equal(after.customer_ids, before.customer_ids)
    assert after.y.tolist() == [1] * after.y.size
    assert before.y.tolist() != after.y.tolist()
    # a longer horizon sees the later orders: the same features, different labels
    longer = churn_dataset(changed, events, cutoff=cutoff, horizon_days=250)
    np.testing.assert_array_equal(longer.X, before.X)
    assert longer.y.tolist() == [0] * longer.y.size


def test_the_cut_offs_put_both_label_windows_inside_the_data():
    last_order = datetime(2011, 12, 9, 12, 50, tzinfo=UTC)

    train, test, end = churn_cutoffs(last_order_at=last_order, horizon_days=90)

    assert end == datetime(2011, 12, 10, tzinfo=UTC)
    assert test == datetime(2011, 9, 11, tzinfo=UTC)
    assert train == datetime(2011, 6, 13, tzinfo=UTC)
    assert test - train == end - test == timedelta(days=90)


def test_the_recency_rule_learns_the_balanced_threshold():
    X = np.array([[5.0], [10.0], [20.0], [40.0], [60.0], [80.0]])
    y = np.array([0, 0, 0, 1, 0, 1])

    rule = RecencyRule(feature_index=0).fit(X, y)

    assert rule.threshold_ == 20.0
    assert rule.predict(X).tolist() == [0, 0, 0, 1, 1, 1]
    assert rule.predict_proba(np.array([[0.0], [20.0], [99.0]]))[:, 1].tolist() == [0, 0.5, 1]


# --- models -------------------------------------------------------------------------------------


def test_pruning_shrinks_the_tree_without_losing_auc(datasets):
    train, test = datasets

    pruned = PrunedTreeClassifier(random_state=0).fit(train.X, train.y)
    unpruned = DecisionTreeClassifier(
        min_samples_leaf=20, class_weight="balanced", random_state=0
    ).fit(train.X, train.y)

    pruned_auc = roc_auc_score(test.y, pruned.predict_proba(test.X)[:, 1])
    unpruned_auc = roc_auc_score(test.y, unpruned.predict_proba(test.X)[:, 1])
    assert pruned.unpruned_leaves_ == unpruned.get_n_leaves()
    assert pruned.estimator_.get_n_leaves() <= unpruned.get_n_leaves() / 3
    assert pruned.ccp_alpha_ > 0
    assert pruned_auc >= unpruned_auc - 0.02
    # the chosen alpha is the best cross-validated one
    assert pruned.cv_auc_ == pytest.approx(max(pruned.cv_mean_auc_))


def test_tree_and_boosting_beat_the_baselines(evaluation):
    auc = {name: metrics["roc_auc"] for name, metrics in evaluation.test_metrics.items()}

    assert auc["baseline_prior"] == 0.5
    assert auc["tree"] >= auc["baseline_prior"] + 0.3
    assert auc["boosting"] >= auc["baseline_prior"] + 0.3
    # the planted signal (returns, thinning orders) is beyond recency's reach
    assert auc["boosting"] >= auc["baseline_recency"] + 0.02
    assert auc["tree"] >= auc["baseline_recency"] - 0.02
    assert set(evaluation.test_metrics["tree"]) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
    }


def test_the_served_model_is_chosen_on_validation_auc(evaluation):
    validation = evaluation.validation_auc

    expected = "tree" if validation["tree"] >= validation["boosting"] - 0.01 else "boosting"
    assert evaluation.chosen == expected
    assert evaluation.choice_reason.startswith(f"{expected} validation AUC")


def test_permutation_importance_ranks_the_planted_signal(evaluation):
    ranked = [feature for feature, _mean, _std in evaluation.importances["boosting"]]

    assert len(ranked) == len(FEATURE_NAMES)
    assert set(ranked[:3]) & {"days_since_last_activity", "recency_days", "return_rate"}


# --- rules, export, reasons ---------------------------------------------------------------------


def test_rules_read_as_if_then_with_merged_conditions():
    # given: churn exactly when the last order is more than 60 days ago
    recency = np.arange(1.0, 101.0)
    X = np.zeros((100, len(FEATURE_NAMES)))
    X[:, 0] = recency
    X[:, 2] = np.where(recency > 80, 1.0, 5.0)
    y = (recency > 60).astype(int)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

    # when
    rules = tree_rules(tree, FEATURE_NAMES, X, y)

    # then
    assert [rule["text"] for rule in rules] == [
        "IF recency_days > 60.5 THEN churn (churn rate 100%, 40 customers)",
        "IF recency_days <= 60.5 THEN stays (churn rate 0%, 60 customers)",
    ]
    assert sum(rule["customers"] for rule in rules) == 100
    assert rules[0]["bounds"] == {"recency_days": [60.5, None]}


def test_rules_of_a_deeper_tree_merge_bounds_per_feature(datasets):
    train, _test = datasets
    tree = DecisionTreeClassifier(max_depth=4, min_samples_leaf=20, random_state=0)
    tree.fit(train.X, train.y)

    rules = tree_rules(tree, train.feature_names, train.X, train.y)

    assert len(rules) == tree.get_n_leaves()
    assert sum(rule["customers"] for rule in rules) == train.y.size
    for rule in rules:  # one condition per feature on the path, however often it splits
        assert len(rule["conditions"]) == len(rule["bounds"])
    assert [rule["score"] for rule in rules] == sorted(
        (rule["score"] for rule in rules), reverse=True
    )


@pytest.mark.parametrize("name", ["tree", "boosting"])
def test_the_exported_model_scores_exactly_as_scikit_learn(evaluation, datasets, tmp_path, name):
    # given
    _train, test = datasets
    model = evaluation.models[name]
    path = tmp_path / "model.npz"
    np.savez(path, **tree_ensemble_export(model, FEATURE_NAMES))

    # when: loaded without pickle, scored with numpy only
    served = TreeEnsemble.load(path)

    # then
    np.testing.assert_allclose(
        served.predict_proba(test.X), model.predict_proba(test.X)[:, 1], rtol=0, atol=1e-12
    )
    assert served.feature_names == FEATURE_NAMES
    with_missing = test.X[:50].copy()
    with_missing[:, 0] = np.nan
    if name == "boosting":  # scikit-learn's own missing-value routing, reproduced
        np.testing.assert_allclose(
            served.predict_proba(with_missing),
            model.predict_proba(with_missing)[:, 1],
            rtol=0,
            atol=1e-12,
        )


def test_calibration_undoes_the_class_weights_without_changing_the_ranking(evaluation, datasets):
    # given: models trained with balanced class weights on a 45%-churn training set
    train, test = datasets
    tree, boosting = evaluation.models["tree"], evaluation.models["boosting"]

    # when
    def served(model, calibration=None):
        arrays = tree_ensemble_export(model, FEATURE_NAMES, calibration=calibration)
        return TreeEnsemble(arrays)

    calibrated_tree = served(tree, (train.X, train.y))
    calibrated_boosting = served(boosting, (train.X, train.y))

    # then: a tree leaf scores its training customers' churn rate, so the mean is the base rate
    assert calibrated_tree.predict_proba(train.X).mean() == pytest.approx(train.y.mean())
    leaf_of_train, leaf_of_test = tree.estimator_.apply(train.X), tree.estimator_.apply(test.X)
    rate = {leaf: train.y[leaf_of_train == leaf].mean() for leaf in set(leaf_of_train)}
    np.testing.assert_allclose(
        calibrated_tree.predict_proba(test.X), [rate[leaf] for leaf in leaf_of_test], atol=1e-12
    )
    # boosting's log-odds move by the prior shift log(n1 / n0), the same for everyone
    logit = np.log(boosting.predict_proba(test.X)[:, 1] / boosting.predict_proba(test.X)[:, 0])
    p = calibrated_boosting.predict_proba(test.X)
    shift = np.log(p / (1 - p)) - logit
    n1, n0 = train.y.sum(), train.y.size - train.y.sum()
    np.testing.assert_allclose(shift, np.log(n1 / n0), atol=1e-9)
    # the ranking, hence ROC AUC, is untouched
    for model, calibrated in ((tree, calibrated_tree), (boosting, calibrated_boosting)):
        assert roc_auc_score(test.y, calibrated.predict_proba(test.X)) == pytest.approx(
            roc_auc_score(test.y, model.predict_proba(test.X)[:, 1])
        )


def test_reasons_name_the_features_that_raise_the_probability():
    # given: a model whose churn probability rises with recency and return rate only
    def predict(X):
        return 1 / (1 + np.exp(-(X[:, 0] / 10 - 3 + 8 * X[:, 9])))

    reference = np.zeros(len(FEATURE_NAMES))
    reference[0] = 30.0
    X = np.tile(reference, (3, 1))
    X[0, 0] = 120.0  # long since the last order
    X[1, 9] = 0.5  # returns half of what it buys
    # X[2] is the typical customer

    # when
    reasons = churn_reasons(predict, X, reference=reference, feature_names=FEATURE_NAMES)

    # then
    assert [[r["feature"] for r in row] for row in reasons] == [
        ["recency_days"],
        ["return_rate"],
        [],
    ]
    assert reasons[0][0]["text"] == "Days since last order: 120 (typical 30)"
    assert reasons[1][0]["text"] == "Returned share of spend: 50% (typical 0%)"
    assert reasons[0][0]["effect"] == pytest.approx(predict(X[:1])[0] - 0.5, abs=1e-4)
