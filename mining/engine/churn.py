"""Churn / repurchase prediction: features, labels, models, evaluation, rules and export.

Pure Python + numpy + scikit-learn; no Django.

Definitions
-----------
For a cut-off ``T`` and a horizon ``N`` days:

* the **population** is every customer with at least one purchase (an order that is not a
  return) in the ``lookback_days`` before ``T``;
* a customer **churned** (``y = 1``) when they placed no purchase in ``[T, T + N)``;
* every **feature** is computed from orders and events strictly before ``T``; nothing at or
  after the cut-off is read (``tests/mining/test_churn_engine.py`` proves it).

Evaluation is a time-based hold-out (see :func:`churn_cutoffs`): the models are fitted on the
data set at ``T1`` (labels from ``T1 .. T1 + N``) and tested on the data set at
``T2 = T1 + N`` (labels from ``T2 .. T2 + N``, the last ``N`` days of the data). So the test
customers' outcomes all lie after every label the training saw, as they will in service.

Models: a decision tree pruned by cost complexity with ``ccp_alpha`` chosen by cross-validated
ROC AUC (:class:`PrunedTreeClassifier`), a histogram gradient-boosting classifier, and two
baselines: the class prior (:class:`~sklearn.dummy.DummyClassifier`) and a recency-only rule
(:class:`RecencyRule`). :func:`churn_models_evaluate` fits and compares them all.

The served model is exported to plain numpy arrays (:func:`tree_ensemble_export`) and scored by
:class:`TreeEnsemble`, which needs neither pickle nor scikit-learn to load.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.tree import DecisionTreeClassifier, export_text

__all__ = [
    "FEATURE_NAMES",
    "ChurnDataset",
    "ChurnEvaluation",
    "ChurnFeatures",
    "ChurnHistory",
    "PrunedTreeClassifier",
    "RecencyRule",
    "TreeEnsemble",
    "churn_cutoffs",
    "churn_dataset",
    "churn_features",
    "churn_history",
    "churn_models_evaluate",
    "churn_reasons",
    "classification_metrics",
    "tree_ensemble_export",
    "tree_rules",
]

DAY = 86_400.0
#: Feature windows: the last 90 days, compared with the 90 days before them.
RECENT_DAYS = 90

FEATURE_NAMES: tuple[str, ...] = (
    "recency_days",
    "tenure_days",
    "frequency",
    "frequency_90d",
    "frequency_trend_90d",
    "monetary",
    "monetary_90d",
    "monetary_trend_90d",
    "average_basket",
    "return_rate",
    "mean_days_between_orders",
    "overdue_ratio",
    "views_90d",
    "cart_adds_90d",
    "days_since_last_activity",
)

#: How a feature reads to a merchant: a label, and a reason template for a customer's value.
FEATURE_LABELS: dict[str, str] = {
    "recency_days": "Days since last order",
    "tenure_days": "Days since first order",
    "frequency": "Orders",
    "frequency_90d": "Orders in last 90 days",
    "frequency_trend_90d": "Orders in last 90 days vs the 90 before",
    "monetary": "Spend",
    "monetary_90d": "Spend in last 90 days",
    "monetary_trend_90d": "Spend in last 90 days vs the 90 before",
    "average_basket": "Average order value",
    "return_rate": "Returned share of spend",
    "mean_days_between_orders": "Mean days between orders",
    "overdue_ratio": "Days since last order / usual gap",
    "views_90d": "Product views in last 90 days",
    "cart_adds_90d": "Add-to-carts in last 90 days",
    "days_since_last_activity": "Days since last visit or order",
}


# --- inputs -------------------------------------------------------------------------------------


def _seconds(values: Iterable[Any]) -> np.ndarray:
    """Epoch seconds from datetimes (aware or naive), numpy datetime64 or plain numbers."""
    if isinstance(values, np.ndarray) and np.issubdtype(values.dtype, np.datetime64):
        return values.astype("datetime64[us]").astype(np.int64) / 1e6
    out = [v.timestamp() if isinstance(v, datetime) else float(v) for v in values]
    return np.asarray(out, dtype=np.float64)


def _second(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


@dataclass(frozen=True)
class ChurnHistory:
    """Order and event rows as column arrays, built once and cut at any number of cut-offs.

    ``order_*`` arrays hold one row per order (purchases and returns; cancelled orders and
    guest orders are left out by the caller); ``event_*`` one row per behaviour event of a
    known customer. Times are epoch seconds.
    """

    order_customer: np.ndarray
    order_time: np.ndarray
    order_total: np.ndarray
    order_is_return: np.ndarray
    event_customer: np.ndarray
    event_time: np.ndarray
    event_type: np.ndarray

    @property
    def first_time(self) -> float | None:
        return float(self.order_time.min()) if self.order_time.size else None

    @property
    def last_time(self) -> float | None:
        return float(self.order_time.max()) if self.order_time.size else None


def churn_history(
    orders: Iterable[Sequence[Any]] | ChurnHistory, events: Iterable[Sequence[Any]] = ()
) -> ChurnHistory:
    """Column arrays from row records.

    Parameters
    ----------
    orders : iterable of ``(customer_id, placed_at, total, is_return)``
        ``placed_at`` a datetime (or epoch seconds); a return's ``total`` is the value returned.
    events : iterable of ``(customer_id, occurred_at, event_type)``
        ``event_type`` as stored ("view", "cart", "search", ...).
    """
    if isinstance(orders, ChurnHistory):
        return orders
    order_rows = list(orders)
    event_rows = list(events)
    return ChurnHistory(
        order_customer=np.asarray([r[0] for r in order_rows], dtype=np.int64),
        order_time=_seconds([r[1] for r in order_rows]),
        order_total=np.asarray([float(r[2]) for r in order_rows], dtype=np.float64),
        order_is_return=np.asarray([bool(r[3]) for r in order_rows], dtype=bool),
        event_customer=np.asarray([r[0] for r in event_rows], dtype=np.int64),
        event_time=_seconds([r[1] for r in event_rows]),
        event_type=np.asarray([str(r[2]) for r in event_rows], dtype=str),
    )


# --- features and labels ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnFeatures:
    """Features of the population at one cut-off (rows ordered by customer id)."""

    X: np.ndarray
    customer_ids: np.ndarray
    feature_names: tuple[str, ...]
    #: Net spend over the lookback window: what a customer's churn would cost a year.
    value: np.ndarray
    cutoff: float


@dataclass(frozen=True)
class ChurnDataset:
    """Features, labels (1 = churned) and the population's ids at one cut-off."""

    X: np.ndarray
    y: np.ndarray
    customer_ids: np.ndarray
    feature_names: tuple[str, ...]
    value: np.ndarray
    cutoff: float
    horizon_days: int


def churn_features(
    orders: Iterable[Sequence[Any]] | ChurnHistory,
    events: Iterable[Sequence[Any]] = (),
    *,
    cutoff: datetime | float,
    lookback_days: int = 365,
) -> ChurnFeatures:
    """Features of every customer with a purchase in the ``lookback_days`` before ``cutoff``.

    Only rows strictly before ``cutoff`` are read: this is the single place that filters by
    time, so no later order or event can leak into a feature.
    """
    history = churn_history(orders, events)
    c = _second(cutoff)
    # The one time filter: everything below works on rows before the cut-off only.
    before = history.order_time < c
    customers = history.order_customer[before]
    age = (c - history.order_time[before]) / DAY  # days before the cut-off, > 0
    total = history.order_total[before]
    is_return = history.order_is_return[before]
    is_purchase = ~is_return

    in_population = is_purchase & (age <= lookback_days)
    ids = np.unique(customers[in_population])
    n = ids.size
    if n == 0:
        empty = np.zeros((0, len(FEATURE_NAMES)))
        return ChurnFeatures(empty, ids, FEATURE_NAMES, np.zeros(0), c)

    def index(customer_column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row positions of ``ids`` for each row, and which rows belong to the population."""
        position = np.searchsorted(ids, customer_column)
        position = np.minimum(position, n - 1)
        return position, ids[position] == customer_column

    position, known = index(customers)

    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        keep = mask & known
        return np.bincount(
            position[keep], weights=None if weights is None else weights[keep], minlength=n
        ).astype(np.float64)

    purchase = is_purchase & known
    recent = age <= RECENT_DAYS
    previous = (age > RECENT_DAYS) & (age <= 2 * RECENT_DAYS)

    frequency = count(purchase)
    frequency_90d = count(purchase & recent)
    frequency_previous = count(purchase & previous)
    monetary = count(purchase, total)
    monetary_90d = count(purchase & recent, total)
    monetary_previous = count(purchase & previous, total)
    returned = count(is_return, total)

    last_age = np.full(n, np.inf)
    first_age = np.zeros(n)
    np.minimum.at(last_age, position[purchase], age[purchase])
    np.maximum.at(first_age, position[purchase], age[purchase])

    with np.errstate(divide="ignore", invalid="ignore"):
        average_basket = np.where(frequency > 0, monetary / frequency, 0.0)
        return_rate = np.where(monetary > 0, np.minimum(returned / monetary, 1.0), 0.0)
        # One order: the gap is unknown but at least the time since it (= tenure).
        mean_gap = np.where(
            frequency > 1, (first_age - last_age) / np.maximum(frequency - 1, 1), first_age
        )
        overdue = last_age / np.maximum(mean_gap, 1.0)

    event_before = history.event_time < c
    event_position, event_known = index(history.event_customer[event_before])
    event_age = (c - history.event_time[event_before]) / DAY
    event_type = history.event_type[event_before]

    def event_count(mask: np.ndarray) -> np.ndarray:
        keep = mask & event_known
        return np.bincount(event_position[keep], minlength=n).astype(np.float64)

    views_90d = event_count((event_type == "view") & (event_age <= RECENT_DAYS))
    carts_90d = event_count((event_type == "cart") & (event_age <= RECENT_DAYS))
    last_activity = last_age.copy()
    np.minimum.at(last_activity, event_position[event_known], event_age[event_known])

    value = np.maximum(
        count(purchase & (age <= lookback_days), total)
        - count(is_return & (age <= lookback_days), total),
        0.0,
    )
    columns = {
        "recency_days": last_age,
        "tenure_days": first_age,
        "frequency": frequency,
        "frequency_90d": frequency_90d,
        "frequency_trend_90d": frequency_90d - frequency_previous,
        "monetary": monetary,
        "monetary_90d": monetary_90d,
        "monetary_trend_90d": monetary_90d - monetary_previous,
        "average_basket": average_basket,
        "return_rate": return_rate,
        "mean_days_between_orders": mean_gap,
        "overdue_ratio": overdue,
        "views_90d": views_90d,
        "cart_adds_90d": carts_90d,
        "days_since_last_activity": last_activity,
    }
    X = np.column_stack([columns[name] for name in FEATURE_NAMES])
    return ChurnFeatures(X, ids, FEATURE_NAMES, value, c)


def churn_dataset(
    orders: Iterable[Sequence[Any]] | ChurnHistory,
    events: Iterable[Sequence[Any]] = (),
    *,
    cutoff: datetime | float,
    horizon_days: int = 90,
    lookback_days: int = 365,
) -> ChurnDataset:
    """Features before ``cutoff`` and labels from ``[cutoff, cutoff + horizon_days)``.

    ``y[i] = 1`` when customer ``customer_ids[i]`` placed no purchase in the label window.
    The caller makes sure the label window lies within the data (:func:`churn_cutoffs`).
    """
    history = churn_history(orders, events)
    features = churn_features(history, cutoff=cutoff, lookback_days=lookback_days)
    c = features.cutoff
    in_window = (
        ~history.order_is_return
        & (history.order_time >= c)
        & (history.order_time < c + horizon_days * DAY)
    )
    bought_again = np.isin(features.customer_ids, history.order_customer[in_window])
    return ChurnDataset(
        X=features.X,
        y=(~bought_again).astype(np.int64),
        customer_ids=features.customer_ids,
        feature_names=features.feature_names,
        value=features.value,
        cutoff=c,
        horizon_days=horizon_days,
    )


def churn_cutoffs(
    *, last_order_at: datetime, horizon_days: int
) -> tuple[datetime, datetime, datetime]:
    """The train cut-off ``T1``, test cut-off ``T2 = T1 + N`` and scoring date ``end``.

    ``end`` is midnight after the last order's day (in its time zone), so the last day counts in
    full; ``T2 = end - N`` puts the test labels in the last ``N`` days of the data and
    ``T1 = T2 - N`` the training labels in the ``N`` days before them.
    """
    end = last_order_at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    test_cutoff = end - timedelta(days=horizon_days)
    return test_cutoff - timedelta(days=horizon_days), test_cutoff, end


# --- models -------------------------------------------------------------------------------------


class RecencyRule(ClassifierMixin, BaseEstimator):
    """Baseline: "churned when the last order is more than ``threshold_`` days ago".

    ``predict_proba`` is the recency's rank among the training customers (monotone in recency,
    so its ROC AUC is recency's own); the threshold maximises balanced accuracy on the
    training set.
    """

    def __init__(self, feature_index: int = 0) -> None:
        self.feature_index = feature_index

    def fit(self, X: np.ndarray, y: np.ndarray) -> RecencyRule:
        recency = np.asarray(X)[:, self.feature_index]
        y = np.asarray(y)
        self.classes_ = np.array([0, 1])
        self.train_recency_ = np.sort(recency)
        # Balanced accuracy of "churn when recency > t" for every t at once: sort, then count
        # the churned at or below t (missed) and the stayed above t (false alarms).
        order = np.argsort(recency, kind="stable")
        sorted_recency, sorted_y = recency[order], y[order]
        positives, negatives = max((y == 1).sum(), 1), max((y == 0).sum(), 1)
        churned_below = np.cumsum(sorted_y == 1)
        stayed_below = np.cumsum(sorted_y == 0)
        last_of_value = np.r_[sorted_recency[1:] != sorted_recency[:-1], True]
        true_positive_rate = (churned_below[-1] - churned_below) / positives
        true_negative_rate = stayed_below / negatives
        score = np.where(last_of_value, (true_positive_rate + true_negative_rate) / 2, -1.0)
        best = sorted_recency[int(np.argmax(score))]
        self.threshold_ = float(best)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        recency = np.asarray(X)[:, self.feature_index]
        rank = np.searchsorted(self.train_recency_, recency, side="right")
        p = rank / max(self.train_recency_.size, 1)
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X)[:, self.feature_index] > self.threshold_).astype(np.int64)


def _alpha_candidates(alphas: np.ndarray, count: int) -> np.ndarray:
    """At most ``count`` alphas of a pruning path, denser towards the small trees.

    Along the path each alpha prunes a little more, so the last alphas give the small trees a
    merchant can read; offsets from the end are spaced geometrically.
    """
    alphas = np.unique(np.maximum(alphas, 0.0))
    if alphas.size <= count:
        return alphas
    offsets = np.unique(np.geomspace(1, alphas.size, count).astype(int))
    return np.unique(alphas[alphas.size - offsets])


class PrunedTreeClassifier(ClassifierMixin, BaseEstimator):
    """A decision tree pruned by cost complexity, with ``ccp_alpha`` chosen by cross-validation.

    The candidate alphas come from the full tree's ``cost_complexity_pruning_path``; each is
    scored by ``cv``-fold stratified ROC AUC (``GridSearchCV``) and the best is kept, the
    largest alpha (smallest tree) on a tie. With ``one_standard_error`` the largest alpha whose
    mean AUC is within one standard error of the best is kept instead: as good within noise,
    and smaller. ``min_samples_leaf`` keeps every rule backed by that many customers.
    """

    def __init__(
        self,
        *,
        cv: int = 5,
        max_candidates: int = 30,
        one_standard_error: bool = False,
        min_samples_leaf: int = 20,
        class_weight: str | None = "balanced",
        random_state: int | None = None,
    ) -> None:
        self.cv = cv
        self.max_candidates = max_candidates
        self.one_standard_error = one_standard_error
        self.min_samples_leaf = min_samples_leaf
        self.class_weight = class_weight
        self.random_state = random_state

    def _tree(self, ccp_alpha: float = 0.0) -> DecisionTreeClassifier:
        return DecisionTreeClassifier(
            ccp_alpha=ccp_alpha,
            min_samples_leaf=self.min_samples_leaf,
            class_weight=self.class_weight,
            random_state=self.random_state,
        )

    def fit(self, X: np.ndarray, y: np.ndarray) -> PrunedTreeClassifier:
        path = self._tree().cost_complexity_pruning_path(X, y)
        candidates = _alpha_candidates(path.ccp_alphas, self.max_candidates)
        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        search = GridSearchCV(
            self._tree(), {"ccp_alpha": list(candidates)}, scoring="roc_auc", cv=folds, n_jobs=1
        )
        search.fit(X, y)
        means = search.cv_results_["mean_test_score"]
        stds = search.cv_results_["std_test_score"]
        means = np.nan_to_num(means, nan=-np.inf)
        best = int(np.argmax(means))
        floor = means[best] - 1e-12
        if self.one_standard_error:
            floor = means[best] - stds[best] / math.sqrt(self.cv)
        eligible = np.flatnonzero(means >= floor)
        chosen = int(eligible[np.argmax(candidates[eligible])])
        self.ccp_alpha_ = float(candidates[chosen])
        self.cv_alphas_ = candidates
        self.cv_mean_auc_ = means
        self.cv_std_auc_ = stds
        self.cv_auc_ = float(means[chosen])
        self.unpruned_leaves_ = int(self._tree().fit(X, y).get_n_leaves())
        self.estimator_ = self._tree(self.ccp_alpha_).fit(X, y)
        self.classes_ = self.estimator_.classes_
        self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_.predict(X)


def boosting_classifier(*, random_state: int | None = None) -> HistGradientBoostingClassifier:
    """The stronger model: small trees, shrinkage, early stopping on a held-back 15%."""
    return HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=200,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        class_weight="balanced",
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=10,
        random_state=random_state,
    )


# --- evaluation ---------------------------------------------------------------------------------


def classification_metrics(
    y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of the churn class, and ROC AUC of the scores."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, y_score)),
    }


@dataclass
class ChurnEvaluation:
    """Every model fitted on the training cut-off and scored on the test cut-off."""

    models: dict[str, Any]
    #: name -> {"accuracy", "precision", "recall", "f1", "roc_auc"} on the hold-out
    test_metrics: dict[str, dict[str, float]]
    #: name -> mean cross-validated ROC AUC on the training cut-off (tree and boosting)
    validation_auc: dict[str, float]
    chosen: str
    choice_reason: str
    #: name -> [(feature, mean AUC drop, std)] from permutation importance on the hold-out
    importances: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)


MODEL_TITLES = {
    "tree": "Pruned decision tree",
    "boosting": "Gradient boosting",
    "baseline_prior": "Baseline: class prior",
    "baseline_recency": "Baseline: recency rule",
}


def churn_models_evaluate(
    train: ChurnDataset,
    test: ChurnDataset,
    *,
    random_state: int | None = 0,
    cv: int = 5,
    prefer_tree_tolerance: float = 0.01,
    importance_repeats: int = 5,
    progress: Callable[[float, str], None] | None = None,
) -> ChurnEvaluation:
    """Fit the tree, boosting and both baselines on ``train``; measure them on ``test``.

    The served model is the tree when its cross-validated AUC is within
    ``prefer_tree_tolerance`` of the boosting model's (a tree a merchant can read is worth a
    little accuracy), otherwise the boosting model. The choice uses validation AUC on the
    training cut-off only, never the hold-out.
    """
    report = progress or (lambda _fraction, _message: None)
    X, y = train.X, train.y
    report(0.1, "pruning the decision tree")
    tree = PrunedTreeClassifier(cv=cv, random_state=random_state).fit(X, y)
    report(0.4, "fitting gradient boosting")
    boosting = boosting_classifier(random_state=random_state)
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    boosting_cv = float(cross_val_score(boosting, X, y, scoring="roc_auc", cv=folds).mean())
    boosting.fit(X, y)
    prior = DummyClassifier(strategy="prior").fit(X, y)
    recency = RecencyRule(feature_index=train.feature_names.index("recency_days")).fit(X, y)
    models = {
        "tree": tree,
        "boosting": boosting,
        "baseline_prior": prior,
        "baseline_recency": recency,
    }

    report(0.6, "testing on the later cut-off")
    test_metrics = {}
    for name, model in models.items():
        scores = model.predict_proba(test.X)[:, 1]
        test_metrics[name] = classification_metrics(test.y, scores, model.predict(test.X))

    validation = {"tree": tree.cv_auc_, "boosting": boosting_cv}
    if validation["tree"] >= validation["boosting"] - prefer_tree_tolerance:
        chosen = "tree"
        reason = (
            f"tree validation AUC {validation['tree']:.4f} is within {prefer_tree_tolerance} of "
            f"boosting's {validation['boosting']:.4f}: the readable model is served"
        )
    else:
        chosen = "boosting"
        reason = (
            f"boosting validation AUC {validation['boosting']:.4f} beats the tree's "
            f"{validation['tree']:.4f} by more than {prefer_tree_tolerance}"
        )

    report(0.75, "permutation importance")
    importances = {}
    for name in ("tree", "boosting"):
        result = permutation_importance(
            models[name],
            test.X,
            test.y,
            scoring="roc_auc",
            n_repeats=importance_repeats,
            random_state=random_state,
            n_jobs=1,
        )
        ranked = sorted(
            zip(
                train.feature_names,
                result.importances_mean.tolist(),
                result.importances_std.tolist(),
                strict=True,
            ),
            key=lambda row: -row[1],
        )
        importances[name] = ranked
    return ChurnEvaluation(models, test_metrics, validation, chosen, reason, importances)


# --- rules --------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:,.0f}"


def tree_rules(
    tree: DecisionTreeClassifier,
    feature_names: Sequence[str],
    X: np.ndarray,
    y: np.ndarray,
) -> list[dict[str, Any]]:
    """One readable rule per leaf, most churn-prone first.

    Conditions on one feature along a path are merged ("recency > 30" then "recency > 90" is
    "recency > 90"). ``churn_rate`` and ``customers`` are counted on ``X``/``y`` (the training
    set), so they read as plain shares rather than the class-weighted leaf values.
    """
    structure = tree.tree_
    leaves = tree.apply(X)
    customers = np.bincount(leaves, minlength=structure.node_count)
    churned = np.bincount(
        leaves, weights=np.asarray(y, dtype=float), minlength=structure.node_count
    )
    rules: list[dict[str, Any]] = []

    def walk(node: int, bounds: dict[int, list[float]]) -> None:
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:  # a leaf
            conditions = []
            for feature in sorted(bounds):
                low, high = bounds[feature]
                name = feature_names[feature]
                if low > -np.inf and high < np.inf:
                    conditions.append(f"{_number(low)} < {name} <= {_number(high)}")
                elif low > -np.inf:
                    conditions.append(f"{name} > {_number(low)}")
                else:
                    conditions.append(f"{name} <= {_number(high)}")
            n = int(customers[node])
            rate = float(churned[node] / n) if n else 0.0
            weighted = structure.value[node][0]
            score = float(weighted[1] / weighted.sum()) if weighted.sum() else 0.0
            outcome = "churn" if score >= 0.5 else "stays"
            text = " AND ".join(conditions) or "every customer"
            rules.append(
                {
                    "conditions": conditions,
                    # {feature: [low, high]} (None: unbounded) behind each condition
                    "bounds": {
                        feature_names[feature]: [
                            None if np.isinf(low) else low,
                            None if np.isinf(high) else high,
                        ]
                        for feature, (low, high) in sorted(bounds.items())
                    },
                    "outcome": outcome,
                    "churn_rate": rate,
                    "customers": n,
                    "score": score,
                    "text": f"IF {text} THEN {outcome} (churn rate {rate:.0%}, {n} customers)",
                }
            )
            return
        feature, threshold = int(structure.feature[node]), float(structure.threshold[node])
        low, high = bounds.get(feature, [-np.inf, np.inf])
        walk(int(left), {**bounds, feature: [low, min(high, threshold)]})
        walk(int(right), {**bounds, feature: [max(low, threshold), high]})

    walk(0, {})
    rules.sort(key=lambda rule: (-rule["score"], -rule["customers"]))
    return rules


def tree_text(tree: DecisionTreeClassifier, feature_names: Sequence[str]) -> str:
    """scikit-learn's indented text of the tree, with feature names."""
    return export_text(tree, feature_names=list(feature_names), decimals=2, show_weights=False)


# --- export and serving -------------------------------------------------------------------------


def _tree_nodes_sklearn(tree: DecisionTreeClassifier) -> dict[str, np.ndarray]:
    structure = tree.tree_
    value = structure.value[:, 0, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        probability = np.where(value.sum(axis=1) > 0, value[:, 1] / value.sum(axis=1), 0.0)
    state = structure.__getstate__()["nodes"]
    missing_left = (
        state["missing_go_to_left"].astype(bool)
        if "missing_go_to_left" in (state.dtype.names or ())
        else np.ones(structure.node_count, dtype=bool)
    )
    return {
        "left": structure.children_left.astype(np.int64),
        "right": structure.children_right.astype(np.int64),
        "feature": np.maximum(structure.feature, 0).astype(np.int64),
        "threshold": structure.threshold.astype(np.float64),
        "missing_left": missing_left,
        "value": probability.astype(np.float64),
    }


def _tree_nodes_boosting(nodes: np.ndarray) -> dict[str, np.ndarray]:
    if nodes["is_categorical"].any():
        raise ValueError("categorical splits cannot be exported")
    leaf = nodes["is_leaf"].astype(bool)
    return {
        "left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
        "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
        "feature": nodes["feature_idx"].astype(np.int64),
        "threshold": nodes["num_threshold"].astype(np.float64),
        "missing_left": nodes["missing_go_to_left"].astype(bool),
        "value": nodes["value"].astype(np.float64),
    }


def tree_ensemble_export(
    model: Any,
    feature_names: Sequence[str],
    *,
    calibration: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays that :class:`TreeEnsemble` scores with, for ``np.savez`` (no pickle).

    A decision tree becomes one tree whose leaf values are churn probabilities ("identity"
    link); a binary histogram gradient-boosting model becomes its trees, whose leaf values add
    to the baseline log-odds ("logit" link). Relies on scikit-learn's node arrays, so a test
    checks that the export scores exactly as the estimator does.

    The models train with balanced class weights, which inflates the minority class's
    probabilities. With ``calibration=(X, y)`` (the training set) the export undoes that, so a
    served probability reads as a real churn chance: a tree's leaves get their customers' plain
    churn rate, and a boosting model's baseline moves by the prior shift ``log(w0 / w1)``. Both
    are monotone, so the ranking (and ROC AUC) is unchanged.
    """
    if isinstance(model, PrunedTreeClassifier):
        model = model.estimator_
    if isinstance(model, DecisionTreeClassifier):
        trees, link, baseline = [_tree_nodes_sklearn(model)], "identity", 0.0
        if calibration is not None:
            X, y = calibration
            leaves = model.apply(X)
            count = np.bincount(leaves, minlength=model.tree_.node_count)
            churned = np.bincount(
                leaves, weights=np.asarray(y, dtype=float), minlength=model.tree_.node_count
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = np.where(count > 0, churned / count, trees[0]["value"])
            trees[0]["value"] = rate
    elif isinstance(model, HistGradientBoostingClassifier):
        if model.n_trees_per_iteration_ != 1:
            raise ValueError("only binary gradient boosting can be exported")
        trees = [_tree_nodes_boosting(p[0].nodes) for p in model._predictors]
        link, baseline = "logit", float(np.ravel(model._baseline_prediction)[0])
        if calibration is not None and model.class_weight is not None:
            _X, y = calibration
            weight = _class_weights(model.class_weight, np.asarray(y))
            baseline += math.log(weight[0] / weight[1])
    else:
        raise TypeError(f"cannot export a {type(model).__name__}")
    starts = np.cumsum([0] + [t["left"].size for t in trees[:-1]]).astype(np.int64)
    arrays = {
        key: np.concatenate(
            [
                # child indices become absolute positions in the concatenated node arrays
                np.where(t[key] >= 0, t[key] + start, -1) if key in {"left", "right"} else t[key]
                for t, start in zip(trees, starts, strict=True)
            ]
        )
        for key in ("left", "right", "feature", "threshold", "missing_left", "value")
    }
    return {
        **arrays,
        "roots": starts,
        "baseline": np.array([baseline]),
        "link": np.array(link),
        "feature_names": np.array(list(feature_names)),
    }


def _class_weights(class_weight: Any, y: np.ndarray) -> tuple[float, float]:
    """The weights of class 0 and class 1 that scikit-learn applied for ``class_weight``."""
    if class_weight == "balanced":
        counts = np.bincount(y.astype(np.int64), minlength=2)
        return float(y.size / (2 * counts[0])), float(y.size / (2 * counts[1]))
    return float(class_weight.get(0, 1.0)), float(class_weight.get(1, 1.0))


class TreeEnsemble:
    """Scores churn probability from exported tree arrays with numpy only.

    Splits send ``x <= threshold`` (and missing values where ``missing_left``) to the left
    child, as scikit-learn does.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.left = np.asarray(arrays["left"], dtype=np.int64)
        self.right = np.asarray(arrays["right"], dtype=np.int64)
        self.feature = np.asarray(arrays["feature"], dtype=np.int64)
        self.threshold = np.asarray(arrays["threshold"], dtype=np.float64)
        self.missing_left = np.asarray(arrays["missing_left"], dtype=bool)
        self.value = np.asarray(arrays["value"], dtype=np.float64)
        self.roots = np.asarray(arrays["roots"], dtype=np.int64)
        self.baseline = float(np.asarray(arrays["baseline"]).ravel()[0])
        self.link = str(arrays["link"])
        self.feature_names = tuple(str(name) for name in np.asarray(arrays["feature_names"]))
        if self.link not in {"identity", "logit"}:
            raise ValueError(f"unknown link {self.link!r}")

    @classmethod
    def load(cls, path: Any) -> TreeEnsemble:
        with np.load(path, allow_pickle=False) as data:
            return cls({key: data[key] for key in data.files})

    def _leaves(self, X: np.ndarray, root: int) -> np.ndarray:
        node = np.full(X.shape[0], root, dtype=np.int64)
        rows = np.arange(X.shape[0])
        active = self.left[node] >= 0
        while active.any():
            r, n = rows[active], node[active]
            x = X[r, self.feature[n]]
            go_left = np.where(np.isnan(x), self.missing_left[n], x <= self.threshold[n])
            node[r] = np.where(go_left, self.left[n], self.right[n])
            active[r] = self.left[node[r]] >= 0
        return node

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of churn for each row (a 1-d array)."""
        X = np.asarray(X, dtype=np.float64)
        raw = np.full(X.shape[0], self.baseline)
        for root in self.roots:
            raw += self.value[self._leaves(X, int(root))]
        if self.link == "logit":
            return 1.0 / (1.0 + np.exp(-raw))
        return raw


# --- per-customer reasons -----------------------------------------------------------------------


_DAY_FEATURES = {
    "recency_days",
    "tenure_days",
    "mean_days_between_orders",
    "days_since_last_activity",
}
_MONEY_FEATURES = {"monetary", "monetary_90d", "monetary_trend_90d", "average_basket"}


def feature_value_text(name: str, value: float) -> str:
    """A feature's value as a merchant reads it: whole days, money to the penny, shares in %."""
    if name == "return_rate":
        return f"{value:.0%}"
    if name in _DAY_FEATURES:
        return f"{value:,.0f}"
    signed = "+" if name.endswith("_trend_90d") else ""
    if name in _MONEY_FEATURES:
        return f"{value:{signed},.2f}"
    if name == "overdue_ratio":
        return f"{value:,.1f}"
    return f"{value:{signed},.0f}"


def _reason_text(name: str, value: float, typical: float) -> str:
    label = FEATURE_LABELS.get(name, name)
    return (
        f"{label}: {feature_value_text(name, value)} (typical {feature_value_text(name, typical)})"
    )


def churn_reasons(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    *,
    reference: np.ndarray,
    feature_names: Sequence[str],
    top: int = 3,
) -> list[list[dict[str, Any]]]:
    """The features that raise each customer's churn probability the most.

    A what-if attribution that works for any model: a feature's effect is the drop in the
    predicted probability when that feature alone is set to its ``reference`` (typical) value.
    Only features that raise the probability are reasons; at most ``top`` per customer.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] == 0:
        return []
    base = predict(X)
    effects = np.zeros_like(X)
    for j in range(X.shape[1]):
        changed = X.copy()
        changed[:, j] = reference[j]
        effects[:, j] = base - predict(changed)
    reasons = []
    for i in range(X.shape[0]):
        order = np.argsort(-effects[i], kind="stable")[:top]
        reasons.append(
            [
                {
                    "feature": feature_names[j],
                    "value": float(X[i, j]),
                    "typical": float(reference[j]),
                    "effect": round(float(effects[i, j]), 4),
                    "text": _reason_text(feature_names[j], float(X[i, j]), float(reference[j])),
                }
                for j in order
                if effects[i, j] > 1e-9
            ]
        )
    return reasons
