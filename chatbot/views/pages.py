"""Merchant chat pages (staff only), under /dashboard/chat/.

- ``chatbot:transcripts`` / ``chatbot:transcript``: conversations with filters, and one
  transcript with each message's intent, confidence and entities and a relabel control;
- ``chatbot:examples``: intent examples by intent, add and deactivate;
- ``chatbot:faq`` (+ create, edit, publish, delete): the answers the bot gives on policy topics;
- ``chatbot:analytics``: volume, intents, fallback and handoff rates, conversations that led to
  an order;
- ``chatbot:model``: the intent model's versions, metrics, per-intent F1 and "Train now".
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from chatbot.engine.intents import CLARIFY
from chatbot.models import Conversation, FaqEntry, Message
from chatbot.selectors import analytics as analytics_selectors
from chatbot.selectors import training as training_selectors
from chatbot.selectors.transcripts import conversation_transcript, conversations_list
from chatbot.services import merchant
from chatbot.services.training import GATE_TOLERANCE, KIND
from chatbot.views.forms import (
    AnalyticsPeriodForm,
    FaqEntryForm,
    IntentExampleForm,
    RelabelForm,
    TranscriptFilterForm,
)
from shopops.dashboard.permissions import staff_required
from shopops.registry import services as registry
from shopops.registry.models import ModelVersion

PAGE_SIZE = 25


# --- transcripts ----------------------------------------------------------------------------------


@staff_required
def transcripts(request: HttpRequest) -> HttpResponse:
    form = TranscriptFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "mode": data["mode"] or None,
            "intent": data["intent"] or None,
            "is_fallback_only": data["fallback"],
            "date_from": data["date_from"],
            "date_to": data["date_to"],
        }
    page = Paginator(conversations_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "chatbot/transcripts.html", context, status=400 if form.errors else 200)


def _transcript_response(
    request: HttpRequest, conversation_id: int, *, error: tuple[int, str] | None = None
) -> HttpResponse:
    try:
        conversation, rows = conversation_transcript(conversation_id=conversation_id)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation.") from None
    for message in rows:
        # Entities are nested JSON (lists of matched products, price limits...): show them as
        # compact JSON, not Python reprs.
        message.entity_items = [
            (name, json.dumps(value, ensure_ascii=False, default=str))
            for name, value in (message.entities or {}).items()
        ]
        message.card_names = [
            str(card.get("name", "")) for card in (message.payload or {}).get("cards") or []
        ]
    context = {
        "conversation": conversation,
        "rows": rows,
        "intents": training_selectors.intent_names(),
        "error_message_id": error[0] if error else None,
        "error": error[1] if error else "",
        "clarify": CLARIFY,
    }
    return render(request, "chatbot/transcript.html", context, status=400 if error else 200)


@staff_required
def transcript(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _transcript_response(request, conversation_id)


@require_POST
@staff_required
def message_relabel(request: HttpRequest, message_id: int) -> HttpResponse:
    message = Message.objects.filter(id=message_id).only("id", "conversation_id").first()
    if message is None:
        raise Http404("No such message.")
    form = RelabelForm(request.POST)
    if not form.is_valid():
        error = "Choose one of the listed intents."
        return _transcript_response(request, message.conversation_id, error=(message.id, error))
    try:
        merchant.message_relabel(
            message_id=message.id, intent=form.cleaned_data["intent"], staff_user=request.user
        )
    except merchant.MerchantInputError as error:
        return _transcript_response(
            request, message.conversation_id, error=(message.id, str(error))
        )
    messages.success(
        request,
        f"Relabelled as {form.cleaned_data['intent']}; the next intent training learns it.",
    )
    url = reverse("chatbot:transcript", args=[message.conversation_id])
    return redirect(f"{url}#message-{message.id}")


# --- intent examples ------------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def examples(request: HttpRequest) -> HttpResponse:
    intent = request.GET.get("intent", "")
    if intent and intent not in training_selectors.intent_names():
        intent = ""
    form = IntentExampleForm(
        request.POST if request.method == "POST" else None, initial={"intent": intent}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                example = merchant.intent_example_create(
                    text=form.cleaned_data["text"],
                    intent=form.cleaned_data["intent"],
                    language=form.cleaned_data["language"] or None,
                    staff_user=request.user,
                )
            except merchant.MerchantInputError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request,
                    f"Added “{example.text}” to {example.intent}; the next training uses it.",
                )
                return redirect(f"{reverse('chatbot:examples')}?intent={example.intent}")
        status = 400
    context = {
        "form": form,
        "counts": training_selectors.intent_example_counts(),
        "examples": training_selectors.intent_examples_list(intent=intent or None)[:200],
        "selected_intent": intent,
    }
    return render(request, "chatbot/examples.html", context, status=status)


@require_POST
@staff_required
def example_deactivate(request: HttpRequest, example_id: int) -> HttpResponse:
    try:
        example = merchant.intent_example_deactivate(example_id=example_id)
    except merchant.MerchantInputError:
        raise Http404("No such example.") from None
    messages.success(request, f"“{example.text}” no longer trains {example.intent}.")
    return redirect(f"{reverse('chatbot:examples')}?intent={example.intent}")


# --- FAQ ------------------------------------------------------------------------------------------


@staff_required
def faq(request: HttpRequest) -> HttpResponse:
    entries = FaqEntry.objects.order_by("topic", "position", "id")
    return render(request, "chatbot/faq.html", {"entries": entries})


def _faq_form(request: HttpRequest, entry: FaqEntry | None) -> HttpResponse:
    """The FAQ form for a new entry (``entry`` None) or an existing one; 400 with the errors."""
    initial = {name: getattr(entry, name) for name in merchant.FAQ_FIELDS} if entry else None
    form = FaqEntryForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if entry is None:
                saved = merchant.faq_entry_create(**form.cleaned_data)
            else:
                saved = merchant.faq_entry_update(faq_entry_id=entry.id, **form.cleaned_data)
        except merchant.MerchantInputError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Saved the FAQ entry “{saved.question}”.")
            return redirect("chatbot:faq")
    context = {"form": form, "entry": entry}
    return render(request, "chatbot/faq_form.html", context, status=400 if form.errors else 200)


@staff_required
@require_http_methods(["GET", "POST"])
def faq_create(request: HttpRequest) -> HttpResponse:
    return _faq_form(request, None)


@staff_required
@require_http_methods(["GET", "POST"])
def faq_edit(request: HttpRequest, faq_entry_id: int) -> HttpResponse:
    entry = FaqEntry.objects.filter(id=faq_entry_id).first()
    if entry is None:
        raise Http404("No such FAQ entry.")
    return _faq_form(request, entry)


@require_POST
@staff_required
def faq_publish(request: HttpRequest, faq_entry_id: int) -> HttpResponse:
    is_published = request.POST.get("is_published") == "1"
    try:
        entry = merchant.faq_entry_publish_set(faq_entry_id=faq_entry_id, is_published=is_published)
    except merchant.MerchantInputError:
        raise Http404("No such FAQ entry.") from None
    state = "published" if entry.is_published else "hidden from customers"
    messages.success(request, f"“{entry.question}” is {state}.")
    return redirect("chatbot:faq")


@require_POST
@staff_required
def faq_delete(request: HttpRequest, faq_entry_id: int) -> HttpResponse:
    entry = FaqEntry.objects.filter(id=faq_entry_id).only("question").first()
    if entry is None:
        raise Http404("No such FAQ entry.")
    merchant.faq_entry_delete(faq_entry_id=faq_entry_id)
    messages.success(request, f"Deleted “{entry.question}”.")
    return redirect("chatbot:faq")


# --- analytics ------------------------------------------------------------------------------------


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


@staff_required
def analytics(request: HttpRequest) -> HttpResponse:
    form = AnalyticsPeriodForm(request.GET or None)
    days = 30
    if form.is_bound and form.is_valid() and form.cleaned_data["days"]:
        days = form.cleaned_data["days"]
    start, end = analytics_selectors.analytics_window(days=days)
    summary = analytics_selectors.chat_summary(start=start, end=end)
    volume = analytics_selectors.chat_volume_by_day(start=start, end=end)
    distribution = analytics_selectors.chat_intent_distribution(start=start, end=end)
    rates = analytics_selectors.chat_rates_by_day(start=start, end=end)
    charts = {
        "days": [row["day"].isoformat() for row in volume],
        "conversations": [row["conversations"] for row in volume],
        "messages": [row["messages"] for row in volume],
        "intents": [row["intent"] for row in distribution],
        "intent_messages": [row["messages"] for row in distribution],
        "fallback_rate": [_percent(row["fallback_rate"]) for row in rates],
        "handoff_rate": [_percent(row["handoff_rate"]) for row in rates],
    }
    context = {
        "form": form,
        "days": days,
        "start": start,
        "end": end,
        "summary": summary,
        "distribution": distribution,
        "charts": charts,
    }
    return render(request, "chatbot/analytics.html", context, status=400 if form.errors else 200)


# --- intent model ---------------------------------------------------------------------------------


@staff_required
def model(request: HttpRequest) -> HttpResponse:
    versions = training_selectors.intent_model_versions()
    active = registry.active_model_version(kind=KIND)
    training = next((v for v in versions if v.status == ModelVersion.Status.TRAINING), None)
    shown = next(
        (
            v
            for v in versions
            if v.status in (ModelVersion.Status.ACTIVE, ModelVersion.Status.READY)
            and "accuracy" in (v.metrics or {})
        ),
        None,
    )
    history = [v for v in reversed(versions) if "accuracy" in (v.metrics or {})]
    context = {
        "versions": versions,
        "active": active,
        "training": training,
        "shown": shown,
        "metrics": shown.metrics if shown else {},
        "per_intent": training_selectors.intent_model_per_intent_rows(
            metrics=shown.metrics if shown else {}
        ),
        "is_trainable": KIND in registry.trainer_kinds(),
        "gate_tolerance": GATE_TOLERANCE,
        "counts": training_selectors.intent_example_counts(),
        "charts": {
            "labels": [f"v{v.version}" for v in history],
            "accuracy": [round(v.metrics["accuracy"], 4) for v in history],
            "keyword_accuracy": [round(v.metrics.get("keyword_accuracy") or 0, 4) for v in history],
            "macro_f1": [round(v.metrics.get("macro_f1") or 0, 4) for v in history],
        },
    }
    return render(request, "chatbot/model.html", context)


urlpatterns = [
    path("transcripts/", transcripts, name="transcripts"),
    path("transcripts/<int:conversation_id>/", transcript, name="transcript"),
    path("messages/<int:message_id>/relabel/", message_relabel, name="message_relabel"),
    path("examples/", examples, name="examples"),
    path("examples/<int:example_id>/deactivate/", example_deactivate, name="example_deactivate"),
    path("faq/", faq, name="faq"),
    path("faq/new/", faq_create, name="faq_create"),
    path("faq/<int:faq_entry_id>/", faq_edit, name="faq_edit"),
    path("faq/<int:faq_entry_id>/publish/", faq_publish, name="faq_publish"),
    path("faq/<int:faq_entry_id>/delete/", faq_delete, name="faq_delete"),
    path("analytics/", analytics, name="analytics"),
    path("model/", model, name="model"),
]
