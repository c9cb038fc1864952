"""Churn training: select -> features and labels at two cut-offs -> fit -> evaluate -> artifact
-> score every current customer -> metrics; the registry then gates and promotes.

The evaluation scheme (documented in :mod:`mining.engine.churn`): with ``N = horizon_days`` and
``end`` the midnight after the last order, the models are fitted on the customers at
``T1 = end - 2N`` (labels: did they buy in ``T1 .. T1 + N``) and tested on the customers at
``T2 = end - N`` (labels from the last ``N`` days). The served model is the one trained at
``T1`` and tested at ``T2``: the metrics, rules and importances on the pages describe exactly
the model that scored the customers. It scores every customer with a purchase in the
``lookback_days`` before ``end``, from features as of ``end``.

Which model is served: the pruned tree when its cross-validated AUC (at ``T1``) is within
``prefer_tree_tolerance`` of the boosting model's, otherwise the boosting model. The artifact is
the served model's trees as numpy arrays (``model.npz``, loaded with ``allow_pickle=False``);
see docs/adr/0003-churn-model-artifact.md.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from mining.engine.churn import (
    FEATURE_LABELS,
    MODEL_TITLES,
    ChurnDataset,
    ChurnEvaluation,
    ChurnHistory,
    TreeEnsemble,
    churn_cutoffs,
    churn_dataset,
    churn_features,
    churn_history,
    churn_models_evaluate,
    churn_reasons,
    tree_ensemble_export,
    tree_rules,
    tree_text,
)
from mining.models import ChurnScore
from mining.selectors import churn as selectors
from shopops.registry.models import ModelVersion
from shopops.registry.services import (
    ProgressCallback,
    Trainer,
    TrainingDataError,
    TrainingResult,
    metric_gate,
    model_version_artifact_verify,
    model_version_training_into,
)

KIND = "churn"
ARTIFACT_FILE = "model.npz"
RULES_FILE = "rules.txt"
DEFAULT_PARAMS: dict[str, Any] = {"horizon_days": 90, "random_state": 0}
#: Read from params when given; these are the defaults.
LOOKBACK_DAYS = 365
MIN_CUSTOMERS = 50
MIN_CLASS_COUNT = 10
PREFER_TREE_TOLERANCE = 0.01
CV_FOLDS = 5
#: A reason must move the probability by at least this much to be shown.
MIN_REASON_EFFECT = 0.01
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc")


def churn_trainer() -> Trainer:
    """Churn for the registry: promoted when hold-out ROC AUC is not worse by more than 0.01."""
    return Trainer(
        kind=KIND,
        train=churn_train,
        gate=metric_gate("roc_auc", tolerance=0.01),
        default_params=dict(DEFAULT_PARAMS),
        title="Churn risk",
    )


def churn_train(
    *, params: dict[str, Any], artifact_dir: Path, progress: ProgressCallback
) -> TrainingResult:
    """Train one churn version (the registry calls this for the version in training).

    Raises :class:`TrainingDataError` (the version fails with its message, no retry) when the
    orders span no more than two horizons, or a cut-off has too few customers or one outcome.
    """
    version = _version_in_training(artifact_dir)
    horizon = _int_param(params, "horizon_days", 90, minimum=7)
    lookback = _int_param(params, "lookback_days", LOOKBACK_DAYS, minimum=horizon)
    random_state = _int_param(params, "random_state", 0, minimum=0)
    min_customers = _int_param(params, "min_customers", MIN_CUSTOMERS, minimum=2 * CV_FOLDS)
    tolerance = float(params.get("prefer_tree_tolerance", PREFER_TREE_TOLERANCE))

    progress(0.02, "reading orders and events")
    first, last = selectors.churn_order_span()
    if first is None or last is None:
        raise TrainingDataError("There are no orders of known customers to learn churn from.")
    train_cutoff, test_cutoff, end = churn_cutoffs(
        last_order_at=timezone.localtime(last), horizon_days=horizon
    )
    _span_check(first=first, last=last, end=end, horizon=horizon)
    history = churn_history(selectors.churn_order_rows(), selectors.churn_event_rows())

    progress(0.08, "building features and labels")
    train = churn_dataset(
        history, cutoff=train_cutoff, horizon_days=horizon, lookback_days=lookback
    )
    test = churn_dataset(history, cutoff=test_cutoff, horizon_days=horizon, lookback_days=lookback)
    for dataset, role in ((train, "training"), (test, "test")):
        _dataset_check(dataset, role=role, minimum=min_customers, horizon=horizon)

    evaluation = churn_models_evaluate(
        train,
        test,
        random_state=random_state,
        cv=CV_FOLDS,
        prefer_tree_tolerance=tolerance,
        progress=lambda fraction, message: progress(0.1 + 0.7 * fraction, message),
    )

    progress(0.82, "writing the artifact")
    reference = np.median(train.X, axis=0)
    tree = evaluation.models["tree"].estimator_
    rules = tree_rules(tree, train.feature_names, train.X, train.y)
    rules_text = tree_text(tree, train.feature_names)
    model_path = artifact_dir / ARTIFACT_FILE
    np.savez(
        model_path,
        **tree_ensemble_export(
            evaluation.models[evaluation.chosen],
            train.feature_names,
            calibration=(train.X, train.y),
        ),
        reference=reference,
        horizon_days=np.array([horizon]),
        lookback_days=np.array([lookback]),
    )
    (artifact_dir / RULES_FILE).write_text(
        "\n".join(rule["text"] for rule in rules) + "\n\n" + rules_text
    )

    progress(0.86, "scoring current customers")
    # Score with the artifact as written to disk, so what is served is what was scored.
    model = TreeEnsemble.load(model_path)
    scored = _scores_save(
        version=version,
        history=history,
        model=model,
        reference=reference,
        end=end,
        lookback=lookback,
    )
    progress(0.98, "recording metrics")
    return TrainingResult(
        metrics=_metrics(
            evaluation,
            train=train,
            test=test,
            rules=rules,
            rules_text=rules_text,
            horizon=horizon,
            end=end,
            scored=scored,
        ),
        data_window_start=first,
        data_window_end=last,
        params={
            "horizon_days": horizon,
            "lookback_days": lookback,
            "random_state": random_state,
            "prefer_tree_tolerance": tolerance,
        },
    )


def churn_model_load(*, version: ModelVersion) -> TreeEnsemble:
    """The version's served model, after checking its files against the recorded sha256."""
    directory = model_version_artifact_verify(version=version)
    return TreeEnsemble.load(directory / ARTIFACT_FILE)


# --- steps --------------------------------------------------------------------------------------


def _int_param(params: dict[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = params.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise TrainingDataError(f"{name} must be a whole number; got {value!r}.") from None
    if number < minimum:
        raise TrainingDataError(f"{name} must be at least {minimum}; got {number}.")
    return number


def _version_in_training(artifact_dir: Path) -> ModelVersion:
    return model_version_training_into(kind=KIND, artifact_dir=artifact_dir)


def _day(value: datetime) -> str:
    return timezone.localtime(value).date().isoformat()


def _span_check(*, first: datetime, last: datetime, end: datetime, horizon: int) -> None:
    # Whole local days, first day to last day inclusive (``end`` is the midnight after it).
    days = (timezone.localtime(end).date() - timezone.localtime(first).date()).days
    if days <= 2 * horizon:
        raise TrainingDataError(
            f"The orders span only {days} days ({_day(first)} to {_day(last)}). A churn model "
            f"with a {horizon}-day horizon needs more than {2 * horizon} days: {horizon} days "
            f"of outcomes to train on, {horizon} more to test on, and order history before "
            "both to compute features from."
        )


def _dataset_check(dataset: ChurnDataset, *, role: str, minimum: int, horizon: int) -> None:
    cutoff = datetime.fromtimestamp(dataset.cutoff, tz=timezone.get_current_timezone())
    n = int(dataset.y.size)
    if n < minimum:
        raise TrainingDataError(
            f"Only {n} customers bought in the year before the {role} cut-off "
            f"{_day(cutoff)}; a churn model needs at least {minimum}."
        )
    churned = int(dataset.y.sum())
    for count, outcome in ((churned, "churned"), (n - churned, "bought again")):
        if count < MIN_CLASS_COUNT:
            raise TrainingDataError(
                f"At the {role} cut-off {_day(cutoff)} only {count} of {n} customers "
                f"{outcome} within {horizon} days; a classifier needs at least "
                f"{MIN_CLASS_COUNT} customers of each outcome."
            )


def _money(value: float) -> Decimal:
    return Decimal(str(round(float(value), 2))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _scores_save(
    *,
    version: ModelVersion,
    history: ChurnHistory,
    model: TreeEnsemble,
    reference: np.ndarray,
    end: datetime,
    lookback: int,
) -> int:
    """Score every current customer and write the version's ChurnScore rows; returns the count.

    Idempotent: a retried training of this version replaces its rows.
    """
    current = churn_features(history, cutoff=end, lookback_days=lookback)
    probability = np.clip(model.predict_proba(current.X), 0.0, 1.0)
    risk = current.value * probability
    # Most value at risk first; ties by probability, then by customer id, so ranks are stable.
    order = np.lexsort((current.customer_ids, -probability, -risk))
    reasons = churn_reasons(
        model.predict_proba, current.X, reference=reference, feature_names=current.feature_names
    )
    names = current.feature_names
    recency, frequency = names.index("recency_days"), names.index("frequency")
    rows = [
        ChurnScore(
            model_version_id=version.id,
            customer_id=int(current.customer_ids[i]),
            probability=float(probability[i]),
            value=_money(current.value[i]),
            risk_score=round(float(risk[i]), 4),
            rank=rank,
            recency_days=round(float(current.X[i, recency]), 2),
            frequency=int(current.X[i, frequency]),
            reasons=[
                {**reason, "label": FEATURE_LABELS.get(reason["feature"], reason["feature"])}
                for reason in reasons[i]
                if reason["effect"] >= MIN_REASON_EFFECT
            ],
        )
        for rank, i in enumerate(order, start=1)
    ]
    with transaction.atomic():
        ChurnScore.objects.filter(model_version=version).delete()
        ChurnScore.objects.bulk_create(rows, batch_size=2_000)
    return len(rows)


def _metrics(
    evaluation: ChurnEvaluation,
    *,
    train: ChurnDataset,
    test: ChurnDataset,
    rules: list[dict[str, Any]],
    rules_text: str,
    horizon: int,
    end: datetime,
    scored: int,
) -> dict[str, Any]:
    chosen = evaluation.chosen
    tree = evaluation.models["tree"]
    tz = timezone.get_current_timezone()
    metrics: dict[str, Any] = {name: evaluation.test_metrics[chosen][name] for name in METRIC_NAMES}
    for key, values in evaluation.test_metrics.items():
        for name in METRIC_NAMES:
            metrics[f"{key}_{name}"] = values[name]
    metrics["baseline_roc_auc"] = max(
        evaluation.test_metrics["baseline_prior"]["roc_auc"],
        evaluation.test_metrics["baseline_recency"]["roc_auc"],
    )
    metrics.update(
        {
            "tree_cv_roc_auc": evaluation.validation_auc["tree"],
            "boosting_cv_roc_auc": evaluation.validation_auc["boosting"],
            "chosen_model": chosen,
            "chosen_model_title": MODEL_TITLES[chosen],
            "choice_reason": evaluation.choice_reason,
            "horizon_days": horizon,
            "train_cutoff": datetime.fromtimestamp(train.cutoff, tz=tz).date().isoformat(),
            "test_cutoff": datetime.fromtimestamp(test.cutoff, tz=tz).date().isoformat(),
            "scored_at": timezone.localtime(end).date().isoformat(),
            "train_customers": int(train.y.size),
            "test_customers": int(test.y.size),
            "train_churn_rate": float(train.y.mean()),
            "test_churn_rate": float(test.y.mean()),
            "scored_customers": scored,
            "tree_leaves": int(tree.estimator_.get_n_leaves()),
            "tree_leaves_unpruned": tree.unpruned_leaves_,
            "tree_ccp_alpha": tree.ccp_alpha_,
            "tree_rules": rules,
            "tree_rules_text": rules_text,
            "feature_importances_model": chosen,
            "feature_importances": [
                {
                    "feature": feature,
                    "label": FEATURE_LABELS.get(feature, feature),
                    "importance": mean,
                    "std": std,
                }
                for feature, mean, std in evaluation.importances[chosen]
            ],
        }
    )
    return metrics
