"""Merchant pages for association rules, under /dashboard/mining/rules/ (staff only).

- the rules browser: filter by item and thresholds, sort by any measure, page, chart, CSV;
- "Retrain": queue a rules training with the thresholds the merchant typed;
- :func:`frequently_bought_together_panel`: the block the dashboard's product page shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from mining.selectors import rules as selectors
from mining.services import rules as services
from shopops.dashboard.csv_export import csv_lines, spreadsheet_text
from shopops.dashboard.permissions import staff_required
from shopops.registry.models import ModelVersion
from shopops.registry.services import TrainingInProgress, model_training_enqueue
from shopops.registry.views import training_outcome_message

PAGE_SIZE = 50
CHART_POINTS = 300
FBT_PANEL_LIMIT = 8

SORT_CHOICES = [
    (f"{prefix}{field}", f"{label} {direction}")
    for field, label in selectors.RULE_SORTS.items()
    for prefix, direction in (("-", "(high first)"), ("", "(low first)"))
]


class RuleFilterForm(forms.Form):
    item = forms.CharField(
        required=False,
        max_length=255,
        label="Product",
        widget=forms.TextInput(attrs={"placeholder": "id, SKU or name", "type": "search"}),
    )
    min_lift = forms.FloatField(required=False, min_value=0, label="Min lift")
    min_confidence = forms.FloatField(
        required=False, min_value=0, max_value=1, label="Min confidence"
    )
    min_support = forms.FloatField(required=False, min_value=0, max_value=1, label="Min support")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label="Sort by")
    version = forms.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("min_lift", "min_confidence", "min_support"):
            self.fields[name].widget.attrs.update({"step": "any", "inputmode": "decimal"})

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid field counts as not given)."""
        data = self._valid_fields()
        return {
            "item": data.get("item") or "",
            "min_lift": data.get("min_lift"),
            "min_confidence": data.get("min_confidence"),
            "min_support": data.get("min_support"),
            "sort": data.get("sort") or selectors.DEFAULT_RULE_SORT,
        }

    def filters_version(self) -> int | None:
        """The version number asked for, if valid."""
        return self._valid_fields().get("version")

    def _valid_fields(self) -> dict[str, Any]:
        # After validation, fields that failed are left out of cleaned_data; the rest apply.
        if not self.is_bound:
            return {}
        self.is_valid()
        return self.cleaned_data


class RetrainForm(forms.Form):
    min_support = forms.DecimalField(
        min_value=services.MIN_SUPPORT_FLOOR, max_value=Decimal(1), label="Min support"
    )
    min_confidence = forms.DecimalField(
        min_value=Decimal(0), max_value=Decimal(1), label="Min confidence"
    )
    max_length = forms.IntegerField(
        min_value=2, max_value=services.MAX_LENGTH_LIMIT, label="Max items per rule"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("min_support", "min_confidence"):
            self.fields[name].widget.attrs.update({"step": "any"})

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return services.rules_params_clean(
            {
                "min_support": str(data["min_support"]),
                "min_confidence": str(data["min_confidence"]),
                "max_length": data["max_length"],
            }
        )


def _version_for(form: RuleFilterForm) -> ModelVersion | None:
    number = form.filters_version()
    return selectors.rules_version_get(version=number)


def _query(request: HttpRequest, **changes: Any) -> str:
    """The current query string with ``changes`` applied (``None`` removes a key)."""
    query = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()


def _sort_headers(request: HttpRequest, current: str) -> dict[str, dict[str, str]]:
    """Per sortable column: the link that sorts by it (high first, or flipped if current)."""
    headers = {}
    for field in selectors.RULE_SORTS:
        if current == f"-{field}":
            target, arrow = field, " ▼"
        elif current == field:
            target, arrow = f"-{field}", " ▲"
        else:
            target, arrow = f"-{field}", ""
        headers[field] = {"url": "?" + _query(request, sort=target, page=None), "arrow": arrow}
    return headers


def _retrain_initial(filters: dict[str, Any], version: ModelVersion | None) -> dict[str, Any]:
    params = {**services.DEFAULT_PARAMS, **(version.params if version else {})}
    support = filters["min_support"]
    return {
        # The thresholds typed into the filter, where they are valid training thresholds.
        "min_support": support
        if support is not None and support >= services.MIN_SUPPORT_FLOOR
        else params["min_support"],
        "min_confidence": filters["min_confidence"]
        if filters["min_confidence"] is not None
        else params["min_confidence"],
        "max_length": params["max_length"],
    }


def _rule_rows(rules: list, products: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "rule": rule,
            "antecedent": [
                products.get(product_id, {"id": product_id, "name": f"#{product_id}", "sku": ""})
                for product_id in rule.antecedent_ids
            ],
        }
        for rule in rules
    ]


@staff_required
def rules_browser(request: HttpRequest) -> HttpResponse:
    form = RuleFilterForm(request.GET or None)
    filters = form.filters()
    version = _version_for(form)
    context: dict[str, Any] = {
        "form": form,
        "filters": filters,
        "version": version,
        "versions": list(selectors.rules_versions_with_rules()[:20]),
        "active": selectors.rules_version_get(),
        "retrain_form": RetrainForm(initial=_retrain_initial(filters, version)),
    }
    if version is not None:
        rules = selectors.rule_list(version=version, **filters)
        page = Paginator(rules, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
        by_lift = {**filters, "sort": selectors.DEFAULT_RULE_SORT}
        context.update(
            {
                "page": page,
                "rows": _rule_rows(rows, selectors.rule_antecedent_products(rows)),
                "headers": _sort_headers(request, filters["sort"]),
                "page_query": _query(request, page=None),
                "export_query": _query(request, page=None),
                "chart_points": selectors.rule_chart_points(
                    rules=selectors.rule_list(version=version, **by_lift), limit=CHART_POINTS
                ),
                "chart_limit": CHART_POINTS,
            }
        )
    return render(request, "mining/rules/browser.html", context)


EXPORT_COLUMNS = [
    "rank",
    "antecedent_ids",
    "antecedent_skus",
    "antecedent",
    "consequent_id",
    "consequent_sku",
    "consequent",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "antecedent_count",
    "consequent_count",
    "rule_count",
    "n_baskets",
]


def _export_rows(version: ModelVersion, rules) -> Iterator[list]:
    skus = selectors.rule_antecedent_skus(version=version)
    yield EXPORT_COLUMNS
    for rule in rules.iterator(chunk_size=2000):
        # Product text is escaped (CSV injection); numbers are written as they are, so a
        # negative leverage stays a number (csv writes str(float), the round-trip repr).
        yield [
            rule.rank + 1,
            " ".join(str(pk) for pk in rule.antecedent_ids),
            spreadsheet_text(" ".join(skus.get(pk, "") for pk in rule.antecedent_ids)),
            spreadsheet_text(rule.antecedent_label),
            rule.consequent_id,
            spreadsheet_text(rule.consequent.sku),
            spreadsheet_text(rule.consequent.name),
            rule.support,
            rule.confidence,
            rule.lift,
            rule.leverage,
            "inf" if rule.conviction is None else rule.conviction,
            rule.antecedent_count,
            rule.consequent_count,
            rule.rule_count,
            rule.n_baskets,
        ]


@staff_required
def rules_export(request: HttpRequest) -> HttpResponse:
    form = RuleFilterForm(request.GET or None)
    version = _version_for(form)
    if version is None:
        messages.warning(request, "There are no rules to export yet.")
        return redirect("mining:rules")
    rules = selectors.rule_list(version=version, **form.filters())
    response = StreamingHttpResponse(
        csv_lines(_export_rows(version, rules)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="association-rules-v{version.version}.csv"'
    )
    return response


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("mining:rules")
    return redirect(target)


@require_POST
@staff_required
@permission_required("registry.change_modelversion", raise_exception=True)
def rules_retrain(request: HttpRequest) -> HttpResponse:
    form = RetrainForm(request.POST)
    if not form.is_valid():
        problems = " ".join(
            f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()
        )
        messages.error(request, f"Not retrained — {problems}")
        return _back(request)
    try:
        params = form.params()
        version = model_training_enqueue(kind=services.RULES_KIND, params=params)
    except services.TrainingDataError as error:
        messages.error(request, f"Not retrained — {error}")
        return _back(request)
    except TrainingInProgress:
        messages.warning(
            request,
            "Association rules are already being trained. The new rules appear here when that "
            "training finishes; retrain again after it if you still need to.",
        )
        return _back(request)
    training_outcome_message(
        request,
        version,
        name=f"Rules v{version.version}",
        texts={
            ModelVersion.Status.TRAINING: "{name} is training; refresh this page in a minute.",
            ModelVersion.Status.ACTIVE: (
                "{name} is trained ({metrics[n_rules]:,} rules) and now in use."
            ),
            ModelVersion.Status.READY: "{name} is trained ({metrics[n_rules]:,} rules) but was not "
            "put in use: {reason}. Browse it below or promote it on the Trained models page.",
            ModelVersion.Status.FAILED: "{name} failed: {error}",
        },
    )
    return _back(request)


# --- the dashboard's product page -----------------------------------------------------------------


def frequently_bought_together_panel(request: HttpRequest, product) -> tuple[str, str]:
    """(title, HTML) of the "Frequently bought together" block for ``product``."""
    items = selectors.frequently_bought_together(product_id=product.pk, limit=FBT_PANEL_LIMIT)
    html = render_to_string(
        "mining/rules/_fbt_panel.html",
        {
            "product": product,
            "items": items,
            "active": selectors.rules_version_get(),
            "recommended_by": selectors.rules_for_consequent_count(product_id=product.pk),
        },
        request=request,
    )
    return "Frequently bought together", html


urlpatterns = [
    path("", rules_browser, name="rules"),
    path("export.csv", rules_export, name="rules-export"),
    path("retrain/", rules_retrain, name="rules-retrain"),
]
