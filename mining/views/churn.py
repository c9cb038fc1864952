"""Merchant pages for churn risk, under /dashboard/mining/churn/ (staff only).

- the overview (``mining:churn``): how the models compare on the hold-out, the pruned tree's
  rules, what drives the predictions, and the customers at risk, ranked and paginated;
- ``mining:churn-at-risk-csv``: every at-risk row of the active version as CSV;
- ``mining:churn-retrain`` (POST, ``registry.change_modelversion``): queue a training.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from mining.selectors import churn as selectors
from shopops.dashboard.csv_export import csv_lines, spreadsheet_text
from shopops.dashboard.permissions import staff_required
from shopops.registry import services as registry
from shopops.registry.models import ModelVersion
from shopops.registry.views import TRAINING_SHOWN_HERE, training_outcome_message

PAGE_SIZE = 50
IMPORTANCES_SHOWN = 10
CSV_HEADER = (
    "rank",
    "customer_id",
    "external_id",
    "name",
    "email",
    "churn_probability",
    "value",
    "value_at_risk",
    "days_since_last_order",
    "orders",
    "reasons",
)

change_required = permission_required("registry.change_modelversion", raise_exception=True)


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    version = selectors.churn_active_version()
    context: dict[str, Any] = {
        "version": version,
        "training": selectors.churn_version_in_training(),
        "failure": selectors.churn_latest_failure(),
    }
    if version is not None:
        shown = selectors.churn_overview(version=version)
        # Features the model never uses shuffle to no loss at all: chart the ones that matter.
        drivers = [row for row in shown.importances if row["importance"] > 0][:IMPORTANCES_SHOWN]
        page = Paginator(selectors.churn_at_risk_list(version=version), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        context.update(
            {
                "overview": shown,
                "summary": selectors.churn_summary(version=version),
                "page": page,
                "charts": {
                    "comparison": shown.chart,
                    "importances": {
                        "labels": [row["label"] for row in drivers],
                        "values": [round(row["importance"], 4) for row in drivers],
                    },
                },
            }
        )
    return render(request, "mining/churn/overview.html", context)


def _csv_rows(version: ModelVersion) -> Iterator[list]:
    yield CSV_HEADER
    for row in selectors.churn_at_risk_rows(version=version):
        (rank, customer_id, external_id, name, email, probability, value, risk, recency,
         frequency, reasons) = row  # fmt: skip
        yield (
            [
                rank,
                customer_id,
                spreadsheet_text(external_id or ""),
                spreadsheet_text(name),
                spreadsheet_text(email),
                f"{probability:.4f}",
                f"{value:.2f}",
                f"{risk:.2f}",
                f"{recency:.0f}",
                frequency,
                spreadsheet_text("; ".join(reason["text"] for reason in reasons)),
            ]
        )


@staff_required
def at_risk_csv(request: HttpRequest) -> HttpResponse:
    version = selectors.churn_active_version()
    if version is None:
        messages.warning(request, "There is no churn model yet, so nothing to export.")
        return redirect("mining:churn")
    response = StreamingHttpResponse(
        csv_lines(_csv_rows(version)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="churn-at-risk-v{version.version}.csv"'
    return response


@require_POST
@staff_required
@change_required
def retrain(request: HttpRequest) -> HttpResponse:
    try:
        version = registry.model_training_enqueue(kind=selectors.KIND)
    except registry.TrainingInProgress:
        messages.warning(
            request,
            "A churn model is already training. This page shows it when it finishes; "
            "start another one after that.",
        )
        return redirect("mining:churn")
    training_outcome_message(
        request,
        version,
        name=f"Churn model v{version.version}",
        texts={
            ModelVersion.Status.TRAINING: TRAINING_SHOWN_HERE,
            ModelVersion.Status.FAILED: "{name} could not be trained: {error}",
        },
    )
    return redirect("mining:churn")


urlpatterns = [
    path("", overview, name="churn"),
    path("at-risk.csv", at_risk_csv, name="churn-at-risk-csv"),
    path("retrain/", retrain, name="churn-retrain"),
]
