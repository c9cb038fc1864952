"""The chatbot's merchant pages: permissions, transcripts and relabelling, examples, FAQ,
analytics and the intent model page."""

import pytest
from django.urls import reverse

from chatbot.engine.intents import INTENTS
from chatbot.models import FaqEntry, IntentExample
from shopops.registry import services as registry
from shopops.registry.models import ModelVersion
from tests.factories import (
    ConversationFactory,
    FaqEntryFactory,
    IntentExampleFactory,
    MessageFactory,
)

pytestmark = pytest.mark.django_db

PAGES = [
    ("chatbot:transcripts", []),
    ("chatbot:analytics", []),
    ("chatbot:examples", []),
    ("chatbot:faq", []),
    ("chatbot:faq_create", []),
    ("chatbot:model", []),
]


@pytest.fixture
def merchant(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_anonymous_visitors_and_customers_are_sent_to_the_login_page(
    client, customer_user, name, args
):
    anonymous = client.get(reverse(name, args=args))
    client.force_login(customer_user[0])
    customer = client.get(reverse(name, args=args))

    for response in (anonymous, customer):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_staff_see_every_page(merchant, name, args):
    response = merchant.get(reverse(name, args=args))

    assert response.status_code == 200


def test_customers_cannot_relabel_or_edit(client, customer_user):
    message = MessageFactory(intent="greet")
    entry = FaqEntryFactory()
    client.force_login(customer_user[0])

    relabel = client.post(
        reverse("chatbot:message_relabel", args=[message.id]), {"intent": "thanks"}
    )
    delete = client.post(reverse("chatbot:faq_delete", args=[entry.id]))

    assert (relabel.status_code, delete.status_code) == (302, 302)
    message.refresh_from_db()
    assert message.corrected_intent == ""
    assert FaqEntry.objects.filter(id=entry.id).exists()


def test_the_sidebar_links_to_the_chat_pages(merchant):
    html = merchant.get(reverse("chatbot:analytics")).content.decode()

    url = reverse("chatbot:analytics")
    assert f'<a href="{url}" class="current" aria-current="page">Chat analytics</a>' in html
    for name in ("transcripts", "examples", "faq", "model"):
        assert f'href="{reverse("chatbot:" + name)}"' in html


def test_transcripts_filter_by_mode_intent_and_fallback(merchant):
    waiting = ConversationFactory(mode="waiting")
    MessageFactory(conversation=waiting, intent="contact_human")
    lost = ConversationFactory()
    MessageFactory(conversation=lost, intent="clarify", is_fallback=True)
    relabelled = ConversationFactory()
    MessageFactory(conversation=relabelled, intent="greet", corrected_intent="order_status")

    def shown(query):
        response = merchant.get(reverse("chatbot:transcripts"), query)
        return sorted(c.id for c in response.context["page"].object_list)

    assert shown({}) == sorted([waiting.id, lost.id, relabelled.id])
    assert shown({"mode": "waiting"}) == [waiting.id]
    assert shown({"fallback": "on"}) == [lost.id]
    assert shown({"intent": "order_status"}) == [relabelled.id]
    assert shown({"intent": "greet"}) == []  # corrected away from greet


def test_transcript_filters_reject_a_reversed_period(merchant):
    response = merchant.get(
        reverse("chatbot:transcripts"), {"date_from": "2026-03-05", "date_to": "2026-03-01"}
    )

    assert response.status_code == 400
    assert "The “from” date must be on or before the “to” date." in response.content.decode()


def test_transcript_shows_intent_confidence_and_entities_and_escapes_text(merchant):
    message = MessageFactory(
        text="<script>alert(1)</script> mug under 20",
        intent="product_search",
        confidence=0.8731,
        entities={"price_max": 20, "products": [{"id": 3, "name": "Coffee Mug"}]},
    )

    response = merchant.get(reverse("chatbot:transcript", args=[message.conversation_id]))

    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; mug under 20" in html
    assert "<script>alert(1)" not in html
    assert "<code data-intent>product_search</code>" in html
    assert "<span data-confidence>0.87</span>" in html
    assert "price_max <code>20</code>" in html
    assert (
        "products <code>[{&quot;id&quot;: 3, &quot;name&quot;: &quot;Coffee Mug&quot;}]</code>"
        in html
    )


def test_a_missing_transcript_is_404(merchant):
    assert merchant.get(reverse("chatbot:transcript", args=[999_999])).status_code == 404


def test_relabel_post_corrects_the_message_and_adds_a_training_example(merchant, staff_user):
    message = MessageFactory(text="where's my stuff", intent="greet")

    response = merchant.post(
        reverse("chatbot:message_relabel", args=[message.id]), {"intent": "order_status"}
    )

    url = reverse("chatbot:transcript", args=[message.conversation_id])
    assert response.status_code == 302
    assert response["Location"] == f"{url}#message-{message.id}"
    message.refresh_from_db()
    assert (message.corrected_intent, message.corrected_by) == ("order_status", staff_user)
    assert IntentExample.objects.get(message=message).intent == "order_status"


def test_relabel_with_an_unknown_intent_is_400_and_changes_nothing(merchant):
    message = MessageFactory(intent="greet")

    response = merchant.post(
        reverse("chatbot:message_relabel", args=[message.id]), {"intent": "dance"}
    )

    assert response.status_code == 400
    assert "Choose one of the listed intents." in response.content.decode()
    message.refresh_from_db()
    assert message.corrected_intent == ""
    assert not IntentExample.objects.exists()


def test_relabel_needs_post_and_csrf(client, staff_user):
    message = MessageFactory(intent="greet")
    csrf_client = client.__class__(enforce_csrf_checks=True)
    csrf_client.force_login(staff_user)
    client.force_login(staff_user)
    url = reverse("chatbot:message_relabel", args=[message.id])

    assert client.get(url).status_code == 405
    assert csrf_client.post(url, {"intent": "thanks"}).status_code == 403
    assert client.post(reverse("chatbot:message_relabel", args=[999_999])).status_code == 404


def test_examples_page_adds_lists_and_deactivates(merchant):
    response = merchant.post(
        reverse("chatbot:examples"), {"text": "any discount codes?", "intent": "faq"}
    )
    example = IntentExample.objects.get()
    assert response.status_code == 302

    page = merchant.get(reverse("chatbot:examples"), {"intent": "faq"})
    counts = {row["intent"]: row for row in page.context["counts"]}
    assert counts["faq"]["active"] == 1
    assert counts["faq"]["total"] == counts["faq"]["file"] + 1
    assert list(page.context["examples"]) == [example]

    merchant.post(reverse("chatbot:example_deactivate", args=[example.id]))
    example.refresh_from_db()
    assert example.is_active is False


def test_examples_form_errors_are_shown(merchant):
    IntentExampleFactory(text="hiya", intent="greet")

    missing = merchant.post(reverse("chatbot:examples"), {"text": "", "intent": ""})
    duplicate = merchant.post(reverse("chatbot:examples"), {"text": "hiya", "intent": "greet"})

    assert missing.status_code == 400
    assert missing.context["form"].errors == {
        "text": ["This field is required."],
        "intent": ["This field is required."],
    }
    assert duplicate.status_code == 400
    assert "“hiya” is already an example of greet." in duplicate.content.decode()
    assert IntentExample.objects.count() == 1


FAQ_FORM = {
    "topic": "shipping_delivery",
    "question": "Do you ship to Norway?",
    "keywords": "norway",
    "answer_en": "Yes.",
    "answer_zh": "是的。",
    "is_published": "on",
    "position": "2",
}


def test_faq_create_edit_toggle_and_delete(merchant):
    created = merchant.post(reverse("chatbot:faq_create"), FAQ_FORM)
    entry = FaqEntry.objects.get(question="Do you ship to Norway?")
    assert created.status_code == 302
    assert (entry.answer_zh, entry.position, entry.is_published) == ("是的。", 2, True)

    edit_page = merchant.get(reverse("chatbot:faq_edit", args=[entry.id]))
    assert edit_page.context["form"].initial["answer_en"] == "Yes."
    merchant.post(
        reverse("chatbot:faq_edit", args=[entry.id]), {**FAQ_FORM, "answer_en": "Yes, in 3 days."}
    )
    entry.refresh_from_db()
    assert entry.answer_en == "Yes, in 3 days."

    merchant.post(reverse("chatbot:faq_publish", args=[entry.id]), {"is_published": "0"})
    entry.refresh_from_db()
    assert entry.is_published is False

    merchant.post(reverse("chatbot:faq_delete", args=[entry.id]))
    assert not FaqEntry.objects.filter(id=entry.id).exists()
    assert merchant.post(reverse("chatbot:faq_delete", args=[entry.id])).status_code == 404


def test_faq_form_errors_are_shown_and_nothing_is_saved(merchant):
    before = FaqEntry.objects.count()

    response = merchant.post(
        reverse("chatbot:faq_create"),
        {**FAQ_FORM, "topic": "weather", "answer_en": "", "position": "-1"},
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert sorted(errors) == ["answer_en", "position", "topic"]
    assert "Please correct the errors below." in response.content.decode()
    assert FaqEntry.objects.count() == before


def test_faq_page_lists_the_default_entries(merchant):
    html = merchant.get(reverse("chatbot:faq")).content.decode()

    assert "What is your returns and refunds policy?" in html
    assert "What are your opening hours and how can I contact you?" in html


def test_analytics_page_shows_the_summary(merchant):
    conversation = ConversationFactory(mode="waiting")
    MessageFactory(conversation=conversation, intent="contact_human")
    MessageFactory(conversation=conversation, intent="clarify", is_fallback=True)

    response = merchant.get(reverse("chatbot:analytics"), {"days": "7"})

    summary = response.context["summary"]
    assert (summary["conversations"], summary["customer_messages"], summary["fallbacks"]) == (
        1,
        2,
        1,
    )
    html = response.content.decode()
    assert '<div class="value" data-metric="fallback_rate">50%</div>' in html
    assert '<div class="value" data-metric="handoff_rate">100%</div>' in html
    assert len(response.context["charts"]["days"]) == 7


def test_model_page_trains_now_and_shows_metrics(merchant, django_capture_on_commit_callbacks):
    empty = merchant.get(reverse("chatbot:model")).content.decode()
    assert "No intent model has been trained here yet" in empty

    with django_capture_on_commit_callbacks(execute=True):
        response = merchant.post(
            reverse("registry:train"), {"kind": "intent", "next": reverse("chatbot:model")}
        )
    assert response["Location"] == reverse("chatbot:model")

    page = merchant.get(reverse("chatbot:model"))
    version = registry.active_model_version(kind="intent")
    assert version is not None
    assert version.status == ModelVersion.Status.ACTIVE
    assert page.context["shown"] == version
    assert sorted(row["intent"] for row in page.context["per_intent"]) == sorted(INTENTS)
    html = page.content.decode()
    assert f'data-metric="accuracy">{version.metrics["accuracy"]:.4f}<' in html
    assert 'data-metric="accuracy_zh"' in html


def test_model_page_shows_a_training_in_progress(merchant):
    version = registry.model_version_start(kind="intent")

    html = merchant.get(reverse("chatbot:model")).content.decode()

    assert f'data-training-id="{version.id}"' in html
    assert 'data-progress-url="/dashboard/models/progress.json?kind=intent"' in html
    assert 'data-action="train-intent" disabled' in html


def test_an_empty_post_is_a_400_with_the_errors(merchant):
    faq = merchant.post(reverse("chatbot:faq_create"), {})
    example = merchant.post(reverse("chatbot:examples"), {})

    assert (faq.status_code, example.status_code) == (400, 400)
    assert faq.context["form"].errors["question"] == ["This field is required."]
    assert example.context["form"].errors["text"] == ["This field is required."]
