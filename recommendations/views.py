"""Merchant pages for recommendations, under /dashboard/recommendations/ (staff only).

- ``recommendations:overview``: every recommender's latest offline evaluation side by side,
  on the validation period (what tuning and the gate use) and on the later test period (never
  used to choose anything), and NDCG@10 of the served (hybrid) model across the registry's
  recommender versions;
- ``recommendations:retrain`` (POST, ``registry.change_modelversion``): queue a training;
- ``recommendations:preview``: find a customer, see their purchases beside what they are served;
- ``recommendations:experiments``: A/B tests, CTR per variant with 95% Wilson intervals, and
  the form for a new one (``recommendations.add_experiment``);
- ``recommendations:experiment-start`` / ``experiment-stop`` (POST,
  ``recommendations.change_experiment``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from recommendations import experiments
from recommendations import selectors as recommendation_selectors
from recommendations.forms import ExperimentForm
from recommendations.models import Experiment, RecommenderEvaluation
from recommendations.services import GATE_METRIC
from shopops.dashboard.permissions import staff_required
from shopops.registry import selectors as registry_selectors
from shopops.registry import services as registry
from shopops.registry.models import ModelVersion
from shopops.registry.views import TRAINING_SHOWN_HERE, training_outcome_message
from shopops.store.models import Customer, Event, Order, OrderItem

KIND = recommendation_selectors.KIND
TEST_METRIC = "test_ndcg_at_10"
SEARCH_LIMIT = 20
HISTORY_LIMIT = 20

change_required = permission_required("registry.change_modelversion", raise_exception=True)
add_experiment_required = permission_required(
    "recommendations.add_experiment", raise_exception=True
)
change_experiment_required = permission_required(
    "recommendations.change_experiment", raise_exception=True
)
SPLITS = (RecommenderEvaluation.Split.VALIDATION, RecommenderEvaluation.Split.TEST)


@dataclass(frozen=True)
class EvaluationRow:
    """One recommender's latest metrics on each split (None where a split has no row)."""

    recommender: str
    validation: RecommenderEvaluation | None
    test: RecommenderEvaluation | None


def _latest_evaluations() -> tuple[ModelVersion | None, list[EvaluationRow]]:
    """The newest version with evaluation rows, and each recommender's rows on both splits,
    best validation NDCG first."""
    version = (
        ModelVersion.objects.filter(kind=KIND, recommender_evaluations__isnull=False)
        .order_by("-version")
        .first()
    )
    if version is None:
        return None, []
    by_split: dict[str, dict[str, RecommenderEvaluation]] = {split: {} for split in SPLITS}
    for row in RecommenderEvaluation.objects.filter(model_version=version, split__in=SPLITS):
        by_split[row.split][row.recommender] = row
    validation, test = by_split[SPLITS[0]], by_split[SPLITS[1]]

    def order(name: str) -> tuple[float, float, str]:
        first, second = validation.get(name), test.get(name)
        return (-(first.ndcg if first else -1.0), -(second.ndcg if second else -1.0), name)

    names = sorted({*validation, *test}, key=order)
    return version, [EvaluationRow(name, validation.get(name), test.get(name)) for name in names]


def _history() -> list[ModelVersion]:
    return [
        version
        for version in ModelVersion.objects.filter(kind=KIND).order_by("version")
        if GATE_METRIC in (version.metrics or {})
    ]


def _rounded(value: Any) -> float | None:
    return round(float(value), 4) if isinstance(value, int | float) else None


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    evaluated, rows = _latest_evaluations()
    history = _history()
    served = registry.active_model_version(kind=KIND)
    training = registry_selectors.model_versions_training(kind=KIND).first()
    first = next((row.validation or row.test for row in rows), None)
    context: dict[str, Any] = {
        "served": served,
        "evaluated": evaluated,
        "rows": rows,
        "k": first.k if first else 10,
        "users": {
            split: next((getattr(row, split).users for row in rows if getattr(row, split)), 0)
            for split in SPLITS
        },
        "has_test": any(row.test for row in rows),
        "history": history,
        "training": training,
        "charts": {
            "ndcg": {
                "labels": [row.recommender for row in rows],
                "validation": [_rounded(row.validation and row.validation.ndcg) for row in rows],
                "test": [_rounded(row.test and row.test.ndcg) for row in rows],
            },
            "history": {
                "labels": [f"v{version.version}" for version in history],
                "validation": [_rounded(version.metrics[GATE_METRIC]) for version in history],
                "test": [_rounded(version.metrics.get(TEST_METRIC)) for version in history],
            },
        },
    }
    return render(request, "recommendations/overview.html", context)


@require_POST
@staff_required
@change_required
def retrain(request: HttpRequest) -> HttpResponse:
    try:
        version = registry.model_training_enqueue(kind=KIND)
    except registry.TrainingInProgress:
        messages.warning(
            request,
            "A recommender is already training. This page shows it when it finishes; "
            "start another one after that.",
        )
        return redirect("recommendations:overview")
    training_outcome_message(
        request,
        version,
        name=f"Recommender v{version.version}",
        texts={
            ModelVersion.Status.TRAINING: TRAINING_SHOWN_HERE,
            ModelVersion.Status.ACTIVE: "{name} is trained and now serves recommendations.",
            ModelVersion.Status.FAILED: "{name} could not be trained: {error}",
        },
    )
    return redirect("recommendations:overview")


@staff_required
def preview(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    matches: list[Customer] = []
    if query:
        matches = list(
            Customer.objects.filter(
                Q(external_id__iexact=query) | Q(name__icontains=query)
            ).order_by("name", "id")[:SEARCH_LIMIT]
        )
    customer = None
    customer_id = request.GET.get("customer", "")
    if customer_id.isdigit():
        customer = Customer.objects.filter(id=int(customer_id)).first()
    elif len(matches) == 1:
        customer = matches[0]
    context: dict[str, Any] = {"query": query, "matches": matches, "customer": customer}
    if customer is not None:
        context["history"] = list(
            OrderItem.objects.filter(
                order__customer=customer, order__status__in=Order.SALE_STATUSES
            )
            .select_related("product", "order")
            .order_by("-order__placed_at", "id")[:HISTORY_LIMIT]
        )
        # Browsing counts as taste too, so a customer who only looked is explained as well.
        context["behaviour"] = list(
            Event.objects.filter(
                customer=customer,
                product__isnull=False,
                event_type__in=recommendation_selectors.BEHAVIOUR_EVENTS,
            )
            .select_related("product")
            .order_by("-occurred_at", "-id")[:HISTORY_LIMIT]
        )
        served = recommendation_selectors.customer_recommendations_served(
            customer_id=customer.id, limit=10
        )
        context["recommendations"] = served.items
        context["served"] = served
        context["segment_popular"] = recommendation_selectors.segment_popular_list(
            customer_id=customer.id, limit=5
        )
    return render(request, "recommendations/preview.html", context)


def _experiments_page(
    request: HttpRequest, form: ExperimentForm | None = None, *, status: int = 200
) -> HttpResponse:
    results = []
    for experiment in Experiment.objects.all():
        missing = (
            experiments.experiment_missing_lists(variants=experiment.variants)
            if not experiment.is_active
            else []
        )
        serves = {
            variant["name"]: experiments.variant_recommender_key(variant)
            for variant in experiment.variants
        }
        results.append(
            {
                "result": experiments.experiment_results_get(experiment=experiment),
                "serves": serves,
                "missing": missing,
            }
        )
    context = {"results": results, "form": form or ExperimentForm()}
    return render(request, "recommendations/experiments.html", context, status=status)


@staff_required
def experiment_list(request: HttpRequest) -> HttpResponse:
    return _experiments_page(request)


@require_POST
@staff_required
@add_experiment_required
def experiment_create(request: HttpRequest) -> HttpResponse:
    form = ExperimentForm(request.POST)
    if not form.is_valid():
        return _experiments_page(request, form, status=400)
    try:
        experiment = experiments.experiment_create(
            name=form.cleaned_data["name"], variants=form.cleaned_data["variants"]
        )
    except experiments.ExperimentError as error:
        form.add_error(None, str(error))
        return _experiments_page(request, form, status=400)
    messages.success(
        request,
        f"A/B test {experiment.name} is saved as a draft. Start it when the served model has "
        "its variants' lists (the next training precomputes them).",
    )
    return redirect("recommendations:experiments")


@require_POST
@staff_required
@change_experiment_required
def experiment_start(request: HttpRequest, experiment_id: int) -> HttpResponse:
    try:
        experiment = experiments.experiment_start(experiment_id=experiment_id)
    except experiments.ExperimentError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"A/B test {experiment.name} is running.")
    return redirect("recommendations:experiments")


@require_POST
@staff_required
@change_experiment_required
def experiment_stop(request: HttpRequest, experiment_id: int) -> HttpResponse:
    try:
        experiment = experiments.experiment_stop(experiment_id=experiment_id)
    except experiments.ExperimentError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"A/B test {experiment.name} is stopped.")
    return redirect("recommendations:experiments")


urlpatterns = [
    path("", overview, name="overview"),
    path("retrain/", retrain, name="retrain"),
    path("preview/", preview, name="preview"),
    path("experiments/", experiment_list, name="experiments"),
    path("experiments/new/", experiment_create, name="experiment-create"),
    path("experiments/<int:experiment_id>/start/", experiment_start, name="experiment-start"),
    path("experiments/<int:experiment_id>/stop/", experiment_stop, name="experiment-stop"),
]
