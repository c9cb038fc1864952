"""Reads for churn: the engine's order and event rows, the active version's scores and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum

from mining.models import ChurnScore
from shopops.registry.models import ModelVersion
from shopops.store.models import Event, Order

KIND = "churn"

MODEL_ROWS = (
    ("tree", "Pruned decision tree"),
    ("boosting", "Gradient boosting"),
    ("baseline_recency", "Baseline: recency rule"),
    ("baseline_prior", "Baseline: class prior"),
)
METRIC_COLUMNS = (
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("roc_auc", "ROC AUC"),
)


# --- engine inputs ------------------------------------------------------------------------------


def churn_order_rows() -> list[tuple[int, datetime, float, bool]]:
    """``(customer_id, placed_at, total, is_return)`` for every order of a known customer.

    One query. Cancelled orders are no purchase and no return, so they are left out; guest
    orders have no customer to predict for.
    """
    returned = Order.Status.RETURNED
    rows = (
        Order.objects.filter(customer__isnull=False)
        .exclude(status=Order.Status.CANCELLED)
        .order_by()
        .values_list("customer_id", "placed_at", "total", "status")
    )
    return [
        (customer_id, placed_at, float(total), status == returned)
        for customer_id, placed_at, total, status in rows.iterator(chunk_size=20_000)
    ]


def churn_event_rows() -> list[tuple[int, datetime, str]]:
    """``(customer_id, occurred_at, event_type)`` for every event of a known customer; one query."""
    rows = (
        Event.objects.filter(customer__isnull=False)
        .order_by()
        .values_list("customer_id", "occurred_at", "event_type")
    )
    return list(rows.iterator(chunk_size=20_000))


def churn_order_span() -> tuple[datetime | None, datetime | None]:
    """First and last order time of known customers' purchases and returns."""
    bounds = (
        Order.objects.filter(customer__isnull=False)
        .exclude(status=Order.Status.CANCELLED)
        .aggregate(first=Min("placed_at"), last=Max("placed_at"))
    )
    return bounds["first"], bounds["last"]


# --- the active version -------------------------------------------------------------------------


def churn_active_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=KIND, status=ModelVersion.Status.ACTIVE).first()


def churn_version_in_training() -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=KIND, status=ModelVersion.Status.TRAINING).first()


def churn_latest_failure() -> ModelVersion | None:
    """The newest churn version when it failed (the pages say why); None otherwise."""
    latest = ModelVersion.objects.filter(kind=KIND).order_by("-version").first()
    return latest if latest and latest.status == ModelVersion.Status.FAILED else None


def churn_at_risk_list(*, version: ModelVersion | None) -> QuerySet[ChurnScore]:
    """The version's scores, most value at risk first (walks the (version, rank) index)."""
    if version is None:
        return ChurnScore.objects.none()
    return (
        ChurnScore.objects.filter(model_version=version)
        .select_related("customer", "model_version")
        .order_by("rank")
    )


def churn_at_risk_rows(*, version: ModelVersion) -> Iterator[tuple[Any, ...]]:
    """Flat rows for the CSV export, streamed from one query."""
    rows = (
        ChurnScore.objects.filter(model_version=version)
        .order_by("rank")
        .values_list(
            "rank",
            "customer_id",
            "customer__external_id",
            "customer__name",
            "customer__email",
            "probability",
            "value",
            "risk_score",
            "recency_days",
            "frequency",
            "reasons",
        )
    )
    return rows.iterator(chunk_size=2_000)


def customer_churn_score(*, customer_id: int, version: ModelVersion | None) -> ChurnScore | None:
    if version is None:
        return None
    return (
        ChurnScore.objects.filter(model_version=version, customer_id=customer_id)
        .select_related("customer", "model_version")
        .first()
    )


@dataclass(frozen=True)
class ChurnSummary:
    customers: int
    likely_to_churn: int
    value: float
    value_at_risk: float


def churn_summary(*, version: ModelVersion) -> ChurnSummary:
    """Headline figures of a version's scores, in one query."""
    row = ChurnScore.objects.filter(model_version=version).aggregate(
        customers=Count("id"),
        likely=Count("id", filter=Q(probability__gte=0.5)),
        value=Sum("value"),
        at_risk=Sum("risk_score"),
    )
    return ChurnSummary(
        customers=row["customers"] or 0,
        likely_to_churn=row["likely"] or 0,
        value=float(row["value"] or 0),
        value_at_risk=float(row["at_risk"] or 0),
    )


# --- metrics for the pages ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnOverview:
    version: ModelVersion
    #: [{"key", "title", "is_chosen", "values": [(metric, value)]}] in MODEL_ROWS order
    comparison: list[dict[str, Any]]
    metric_names: list[tuple[str, str]]
    chart: dict[str, Any]
    rules: list[dict[str, Any]]
    rules_text: str
    importances: list[dict[str, Any]]
    facts: dict[str, Any]


def churn_overview(*, version: ModelVersion) -> ChurnOverview:
    """The version's metrics shaped for the overview page: table, charts, rules and facts."""
    metrics = version.metrics or {}
    chosen = metrics.get("chosen_model", "")
    comparison = []
    for key, title in MODEL_ROWS:
        if f"{key}_roc_auc" not in metrics:
            continue
        comparison.append(
            {
                "key": key,
                "title": title,
                "is_chosen": key == chosen,
                "values": [(name, metrics.get(f"{key}_{name}")) for name, _label in METRIC_COLUMNS],
                "validation_auc": metrics.get(f"{key}_cv_roc_auc"),
            }
        )
    chart = {
        "models": [row["title"] for row in comparison],
        "metrics": [label for _name, label in METRIC_COLUMNS],
        "values": [[value for _name, value in row["values"]] for row in comparison],
    }
    importances = [
        {**row, "label": row.get("label", row["feature"])}
        for row in metrics.get("feature_importances", [])
    ]
    facts = {
        name: metrics.get(name)
        for name in (
            "chosen_model",
            "choice_reason",
            "horizon_days",
            "train_cutoff",
            "test_cutoff",
            "scored_at",
            "train_customers",
            "test_customers",
            "train_churn_rate",
            "test_churn_rate",
            "scored_customers",
            "tree_leaves",
            "tree_leaves_unpruned",
            "tree_ccp_alpha",
        )
    }
    return ChurnOverview(
        version=version,
        comparison=comparison,
        metric_names=list(METRIC_COLUMNS),
        chart=chart,
        rules=list(metrics.get("tree_rules", [])),
        rules_text=str(metrics.get("tree_rules_text", "")),
        importances=importances,
        facts=facts,
    )
