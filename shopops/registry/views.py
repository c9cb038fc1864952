"""Merchant pages for the trained-model registry: versions, progress, train/promote/rollback."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from shopops.dashboard.permissions import staff_required
from shopops.registry import selectors, services
from shopops.registry.models import ModelVersion

#: Versions per kind on the overview; a kind's own page shows up to ALL_VERSIONS_LIMIT.
OVERVIEW_LIMIT = 12
ALL_VERSIONS_LIMIT = 500

change_required = permission_required("registry.change_modelversion", raise_exception=True)


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Redirect to the page the form came from (a same-site ``next``) or to ``fallback``."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = fallback
    return redirect(target)


@staff_required
def runs(request: HttpRequest) -> HttpResponse:
    trainable = services.trainer_kinds()
    all_kinds = sorted(set(selectors.model_kinds()) | set(trainable))
    kind = request.GET.get("kind", "")
    if kind and kind not in all_kinds:
        raise Http404("No such model kind.")
    groups = selectors.model_version_groups(
        kinds=[kind] if kind else all_kinds,
        limit_per_kind=ALL_VERSIONS_LIMIT if kind else OVERVIEW_LIMIT,
        trainable=frozenset(trainable),
    )
    context = {
        "groups": groups,
        "kinds": all_kinds,
        "kind": kind,
        "charts": [group.chart for group in groups if group.chart],
    }
    return render(request, "registry/runs.html", context)


@staff_required
def detail(request: HttpRequest, version_id: int) -> HttpResponse:
    try:
        version = selectors.model_version_get(version_id=version_id)
    except ModelVersion.DoesNotExist:
        raise Http404("No such model version.") from None
    active = services.active_model_version(kind=version.kind)
    context = {
        "version": version,
        "active": active if active and active.id != version.id else None,
        "metrics": selectors.model_version_metric_comparison(version=version, active=active),
        "duration": selectors.duration_format(version.duration_seconds),
        "params": selectors.mapping_rows(version.params),
        "library_versions": selectors.mapping_rows(version.library_versions),
    }
    return render(request, "registry/detail.html", context)


@staff_required
def progress(request: HttpRequest) -> JsonResponse:
    """Running trainings' progress, polled by static/js/registry.js every two seconds."""
    trainings = selectors.model_training_progress(kind=request.GET.get("kind") or None)
    return JsonResponse({"trainings": trainings})


@require_POST
@staff_required
@change_required
def train(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    fallback = reverse("registry:runs")
    try:
        version = services.model_training_enqueue(kind=kind)
    except services.UnknownModelKind:
        messages.error(request, f"There is no trainer for the model kind “{kind}”.")
        return _back(request, fallback)
    except services.TrainingInProgress:
        messages.warning(
            request,
            f"A {kind} model is already training. This page updates when it finishes; "
            "start another one after that.",
        )
        return _back(request, fallback)
    training_outcome_message(request, version, name=f"{kind} v{version.version}")
    return _back(request, fallback)


#: How a started training stands, per status; ``{name}``, ``{reason}`` (the gate's),
#: ``{error}`` and ``{metrics[...]}`` are filled in. Pages that start a training may reword them.
TRAINING_OUTCOME_TEXTS = {
    ModelVersion.Status.TRAINING: "Training {name} has started.",
    ModelVersion.Status.ACTIVE: "{name} is trained and now the active model.",
    ModelVersion.Status.READY: "{name} is trained but was not promoted: {reason}",
    ModelVersion.Status.FAILED: "Training {name} failed: {error}",
}
#: The wording for a page that shows the new version once its training finishes.
TRAINING_SHOWN_HERE = "{name} is training; this page shows it when it finishes."
_OUTCOME_LEVELS = {
    ModelVersion.Status.TRAINING: messages.success,
    ModelVersion.Status.ACTIVE: messages.success,
    ModelVersion.Status.READY: messages.warning,
}


def training_outcome_message(
    request: HttpRequest, version: ModelVersion, *, name: str, texts: dict | None = None
) -> None:
    """Tell the merchant how the training they just started stands.

    Without a broker (the embedded default) the task ran inline, so the version may already be
    active, kept back by its gate, or failed: it is read again before saying so.
    """
    version.refresh_from_db()
    wording = {**TRAINING_OUTCOME_TEXTS, **(texts or {})}
    status = version.status if version.status in _OUTCOME_LEVELS else ModelVersion.Status.FAILED
    text = wording[status].format(
        name=name, reason=version.gate_reason, error=version.error, metrics=version.metrics
    )
    _OUTCOME_LEVELS.get(status, messages.error)(request, text)


@require_POST
@staff_required
@change_required
def promote(request: HttpRequest, version_id: int) -> HttpResponse:
    try:
        version = services.model_version_promote(version_id=version_id)
    except ModelVersion.DoesNotExist:
        raise Http404("No such model version.") from None
    except ValueError as error:
        messages.error(request, str(error))
        return _back(request, reverse("registry:runs"))
    messages.success(request, f"{version.kind} v{version.version} is now the active model.")
    return _back(request, reverse("registry:runs"))


@require_POST
@staff_required
@change_required
def rollback(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    try:
        version = services.model_version_rollback(kind=kind)
    except ValueError as error:
        messages.error(request, str(error))
        return _back(request, reverse("registry:runs"))
    messages.success(
        request, f"Rolled back: {version.kind} v{version.version} is now the active model."
    )
    return _back(request, reverse("registry:runs"))
