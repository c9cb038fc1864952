"""Merchant pages for recommendations, under /dashboard/recommendations/ (staff only).

- ``recommendations:overview``: every recommender's latest offline evaluation side by side,
  and NDCG@10 of the served (hybrid) model across the registry's recommender versions;
- ``recommendations:retrain`` (POST, ``registry.change_modelversion``): queue a training;
- ``recommendations:preview``: find a customer, see their purchases beside what they are served;
- ``recommendations:experiments``: A/B tests, CTR per variant with 95% Wilson intervals.
"""

from __future__ import annotations

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
from recommendations.models import Experiment, RecommenderEvaluation
from shopops.dashboard.permissions import staff_required
from shopops.registry import services as registry
from shopops.registry.models import ModelVersion
from shopops.store.models import Customer, Event, Order, OrderItem

KIND = recommendation_selectors.KIND
GATE_METRIC = "ndcg_at_10"
SEARCH_LIMIT = 20
HISTORY_LIMIT = 20

change_required = permission_required("registry.change_modelversion", raise_exception=True)


def _latest_evaluations() -> tuple[ModelVersion | None, list[RecommenderEvaluation]]:
    """The newest version with evaluation rows, and its validation rows, best NDCG first."""
    version = (
        ModelVersion.objects.filter(kind=KIND, recommender_evaluations__isnull=False)
        .order_by("-version")
        .first()
    )
    if version is None:
        return None, []
    rows = list(
        RecommenderEvaluation.objects.filter(
            model_version=version, split=RecommenderEvaluation.Split.VALIDATION
        ).order_by("-ndcg", "recommender")
    )
    return version, rows


def _history() -> list[ModelVersion]:
    return [
        version
        for version in ModelVersion.objects.filter(kind=KIND).order_by("version")
        if GATE_METRIC in (version.metrics or {})
    ]


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    evaluated, rows = _latest_evaluations()
    history = _history()
    served = recommendation_selectors.active_recommender_version()
    training = ModelVersion.objects.filter(kind=KIND, status=ModelVersion.Status.TRAINING).first()
    context: dict[str, Any] = {
        "served": served,
        "evaluated": evaluated,
        "rows": rows,
        "history": history,
        "training": training,
        "charts": {
            "ndcg": {
                "labels": [row.recommender for row in rows],
                "values": [round(row.ndcg, 4) for row in rows],
            },
            "history": {
                "labels": [f"v{version.version}" for version in history],
                "values": [round(version.metrics[GATE_METRIC], 4) for version in history],
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
    # Without a broker the task ran inline: report how it ended.
    version.refresh_from_db()
    name = f"Recommender v{version.version}"
    if version.status == ModelVersion.Status.TRAINING:
        messages.success(request, f"{name} is training; this page shows it when it finishes.")
    elif version.status == ModelVersion.Status.ACTIVE:
        messages.success(request, f"{name} is trained and now serves recommendations.")
    elif version.status == ModelVersion.Status.READY:
        messages.warning(request, f"{name} is trained but was not promoted: {version.gate_reason}")
    else:
        messages.error(request, f"{name} could not be trained: {version.error}")
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
        context["recommendations"] = recommendation_selectors.customer_recommendations_list(
            customer_id=customer.id, limit=10
        )
        context["segment_popular"] = recommendation_selectors.segment_popular_list(
            customer_id=customer.id, limit=5
        )
    return render(request, "recommendations/preview.html", context)


@staff_required
def experiment_list(request: HttpRequest) -> HttpResponse:
    results = [
        experiments.experiment_results_get(experiment=experiment)
        for experiment in Experiment.objects.all()
    ]
    return render(request, "recommendations/experiments.html", {"results": results})


urlpatterns = [
    path("", overview, name="overview"),
    path("retrain/", retrain, name="retrain"),
    path("preview/", preview, name="preview"),
    path("experiments/", experiment_list, name="experiments"),
]
