"""Merchant pages of the vision app (staff only), under /dashboard/vision/."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from shopops.dashboard.permissions import staff_required
from shopops.registry.models import ModelVersion
from shopops.registry.services import active_model_version
from shopops.store.selectors import category_paths
from vision import selectors, services
from vision.models import CategorySuggestion, PhotoSearch
from vision.throttling import photo_search_allowed

SUGGESTIONS_PER_PAGE = 25


def _chart_data(evaluation: dict) -> dict:
    history = evaluation.get("history", [])
    return {
        "epochs": [int(row["epoch"]) for row in history],
        "loss": [row.get("loss") for row in history],
        "val_loss": [row.get("val_loss") for row in history],
        "accuracy": [row.get("accuracy") for row in history],
        "val_accuracy": [row.get("val_accuracy") for row in history],
    }


def _per_class_rows(evaluation: dict) -> list[dict]:
    baseline = evaluation.get("baseline", {}).get("per_class", {})
    return [
        {
            "label": label,
            **evaluation["per_class"][label],
            "baseline_f1": baseline.get(label, {}).get("f1"),
        }
        for label in evaluation["labels"]
    ]


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    """Model runs: curves, confusion matrix, per-class metrics, the baseline beside the CNN."""
    versions = selectors.cnn_versions()
    active = active_model_version(kind=selectors.KIND)
    selected = None
    if request.GET.get("version"):
        try:
            selected = selectors.cnn_version_get(version_id=int(request.GET["version"]))
        except (ValueError, ModelVersion.DoesNotExist):
            raise Http404("No such image model.") from None
    else:
        selected = active or next(
            (v for v in versions if v.status == ModelVersion.Status.READY), None
        )
    evaluation = selectors.cnn_evaluation(version=selected) if selected else None
    context = {
        "versions": versions,
        "active": active,
        "selected": selected,
        "evaluation": evaluation,
        "chart": _chart_data(evaluation) if evaluation else None,
        "confusion": selectors.confusion_rows(evaluation) if evaluation else [],
        "per_class": _per_class_rows(evaluation) if evaluation else [],
        "training": [v for v in versions if v.status == ModelVersion.Status.TRAINING],
        "counts": selectors.suggestion_counts(),
    }
    return render(request, "vision/overview.html", context)


@staff_required
def suggestions(request: HttpRequest) -> HttpResponse:
    """Pending category suggestions, the ones that would change a product first."""
    page = Paginator(selectors.suggestion_list(), SUGGESTIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    names = category_paths()
    for suggestion in page.object_list:
        suggestion.current_category_name = names.get(suggestion.image.product.category_id, "")
        suggestion.predicted_category_name = names.get(suggestion.predicted_category_id, "")
    context = {
        "page": page,
        "categories": sorted(names.items(), key=lambda item: item[1]),
        "counts": selectors.suggestion_counts(),
    }
    return render(request, "vision/suggestions.html", context)


@require_POST
@staff_required
@permission_required("vision.change_categorysuggestion", raise_exception=True)
def suggestion_decide(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    decision = request.POST.get("decision", "")
    try:
        if decision == "accept":
            services.suggestion_accept(suggestion_id=suggestion_id, user=request.user)
        elif decision == "correct":
            try:
                category_id = int(request.POST.get("category", ""))
            except ValueError:
                messages.error(request, "Pick the right category to correct the suggestion.")
                return redirect("vision:suggestions")
            services.suggestion_correct(
                suggestion_id=suggestion_id, category_id=category_id, user=request.user
            )
        elif decision == "dismiss":
            services.suggestion_dismiss(suggestion_id=suggestion_id, user=request.user)
        else:
            messages.error(request, "Unknown decision.")
            return redirect("vision:suggestions")
    except CategorySuggestion.DoesNotExist:
        raise Http404("No such suggestion.") from None
    except services.SuggestionError as error:
        messages.error(request, str(error))
    else:
        done = {"accept": "accepted", "correct": "corrected", "dismiss": "dismissed"}[decision]
        messages.success(request, f"Suggestion {done}.")
    return redirect(f"{reverse('vision:suggestions')}?page={request.POST.get('page', 1)}")


def _photo_search_context(request: HttpRequest, channel: str) -> tuple[dict, int]:
    """Run a search for a POSTed photo: (template context, HTTP status). Shared with the
    storefront page so both apply the same limits and messages."""
    allowed, wait = photo_search_allowed(request)
    if not allowed:
        seconds = int(wait or 60) + 1
        return {"error": f"Too many photo searches: try again in {seconds} s."}, 429
    try:
        data = services.upload_read(upload=request.FILES.get("image"))
        result = services.photo_search(data=data, channel=channel, user=request.user)
    except services.PhotoRejected as error:
        return {"error": error.message}, 400
    except services.PhotoSearchUnavailable as error:
        return {"error": str(error)}, 503
    return {"matches": result.matches, "searched": True, "model": result.model_version}, 200


@staff_required
def search_tester(request: HttpRequest) -> HttpResponse:
    """Try search by photo as a customer would, with the model's similarity scores."""
    context: dict = {"active": active_model_version(kind=selectors.KIND)}
    status = 200
    if request.method == "POST":
        found, status = _photo_search_context(request, PhotoSearch.Channel.DASHBOARD)
        context.update(found)
    context["recent"] = PhotoSearch.objects.select_related("top_product")[:10]
    return render(request, "vision/search.html", context, status=status)


def similar_products_panel(request: HttpRequest, product) -> tuple[str, str]:
    """The dashboard product page's "visually similar products" panel."""
    matches = selectors.product_similar_products(product_id=product.pk, limit=6)
    html = render_to_string(
        "vision/_similar_panel.html",
        {"matches": matches, "has_model": active_model_version(kind=selectors.KIND) is not None},
        request=request,
    )
    return "Visually similar products", html
