"""Merchant services: relabelling, intent examples, FAQ entries."""

import pytest

from chatbot.models import FaqEntry, IntentExample, Message
from chatbot.services import merchant
from tests.factories import FaqEntryFactory, IntentExampleFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_relabel_sets_the_correction_and_creates_a_training_example(staff_user):
    message = MessageFactory(text="wanna send this back", intent="greet", language="en")

    merchant.message_relabel(message_id=message.id, intent="return_refund", staff_user=staff_user)

    message.refresh_from_db()
    assert message.corrected_intent == "return_refund"
    assert message.corrected_by == staff_user
    assert message.corrected_at is not None
    assert message.intent == "greet"  # what the bot thought stays on record
    example = IntentExample.objects.get(message=message)
    assert (example.text, example.intent, example.language, example.source, example.is_active) == (
        "wanna send this back",
        "return_refund",
        "en",
        IntentExample.Source.RELABEL,
        True,
    )


def test_relabelling_again_updates_the_same_example(staff_user):
    message = MessageFactory(text="发货了吗", intent="greet", language="zh")

    merchant.message_relabel(message_id=message.id, intent="order_status", staff_user=staff_user)
    merchant.message_relabel(
        message_id=message.id, intent="shipping_delivery", staff_user=staff_user
    )

    assert list(IntentExample.objects.values_list("text", "intent", "language")) == [
        ("发货了吗", "shipping_delivery", "zh")
    ]


def test_relabel_reuses_an_identical_example(staff_user):
    existing = IntentExampleFactory(text="where is it", intent="order_status", is_active=False)
    message = MessageFactory(text="where is it", intent="greet")

    merchant.message_relabel(message_id=message.id, intent="order_status", staff_user=staff_user)

    existing.refresh_from_db()
    assert existing.is_active is True
    assert IntentExample.objects.count() == 1


def test_relabel_rejects_unknown_intents_and_non_customer_messages(staff_user):
    message = MessageFactory(intent="greet")
    bot_message = MessageFactory(sender=Message.Sender.BOT, conversation=message.conversation)

    with pytest.raises(merchant.MerchantInputError, match="not an intent the bot knows"):
        merchant.message_relabel(message_id=message.id, intent="dance", staff_user=staff_user)
    with pytest.raises(merchant.MerchantInputError, match="Only customer messages"):
        merchant.message_relabel(message_id=bot_message.id, intent="greet", staff_user=staff_user)
    with pytest.raises(merchant.MerchantInputError, match="does not exist"):
        merchant.message_relabel(message_id=999_999, intent="greet", staff_user=staff_user)

    message.refresh_from_db()
    assert message.corrected_intent == ""
    assert IntentExample.objects.count() == 0


def test_add_an_example_detects_its_language_and_refuses_duplicates(staff_user):
    example = merchant.intent_example_create(
        text="  有没有便宜一点的  ", intent="cheaper_alternative", staff_user=staff_user
    )

    assert (example.text, example.language, example.source, example.created_by) == (
        "有没有便宜一点的",
        "zh",
        IntentExample.Source.MERCHANT,
        staff_user,
    )
    with pytest.raises(merchant.MerchantInputError, match="already an example"):
        merchant.intent_example_create(
            text="有没有便宜一点的", intent="cheaper_alternative", staff_user=staff_user
        )
    with pytest.raises(merchant.MerchantInputError, match="Write the example"):
        merchant.intent_example_create(text="   ", intent="greet", staff_user=staff_user)
    with pytest.raises(merchant.MerchantInputError, match="at most 500 characters"):
        merchant.intent_example_create(text="a" * 501, intent="greet", staff_user=staff_user)
    with pytest.raises(merchant.MerchantInputError, match="not an intent"):
        merchant.intent_example_create(text="hello", intent="hello", staff_user=staff_user)
    assert IntentExample.objects.count() == 1


def test_deactivate_and_re_add_an_example(staff_user):
    example = IntentExampleFactory(text="cheers mate", intent="thanks")

    merchant.intent_example_deactivate(example_id=example.id)
    example.refresh_from_db()
    assert example.is_active is False

    again = merchant.intent_example_create(
        text="cheers mate", intent="thanks", staff_user=staff_user
    )
    assert again.id == example.id
    assert again.is_active is True
    with pytest.raises(merchant.MerchantInputError):
        merchant.intent_example_deactivate(example_id=999_999)


def test_the_default_faq_entries_answer_policy_questions_in_both_languages():
    entries = FaqEntry.objects.filter(is_published=True).order_by("topic")

    assert [entry.topic for entry in entries] == [
        "faq",
        "payment_issue",
        "return_refund",
        "shipping_delivery",
    ]
    assert all(entry.answer_en and entry.answer_zh for entry in entries)


def test_faq_create_edit_publish_delete():
    entry = merchant.faq_entry_create(
        topic="shipping_delivery",
        question=" Do you ship abroad? ",
        answer_en="Yes, to 30 countries.",
        answer_zh="是的，可寄往30个国家。",
        keywords="abroad,  international ,, 国外",
    )
    assert (entry.question, entry.keywords, entry.is_published) == (
        "Do you ship abroad?",
        "abroad, international, 国外",
        True,
    )

    updated = merchant.faq_entry_update(
        faq_entry_id=entry.id,
        topic="shipping_delivery",
        question="Do you ship abroad?",
        answer_en="Yes, to 40 countries.",
        is_published=False,
        position=3,
    )
    assert (updated.answer_en, updated.answer_zh, updated.is_published, updated.position) == (
        "Yes, to 40 countries.",
        "",
        False,
        3,
    )

    assert merchant.faq_entry_publish_set(faq_entry_id=entry.id, is_published=True).is_published
    merchant.faq_entry_delete(faq_entry_id=entry.id)
    assert not FaqEntry.objects.filter(id=entry.id).exists()
    with pytest.raises(merchant.MerchantInputError, match="does not exist"):
        merchant.faq_entry_delete(faq_entry_id=entry.id)


def test_faq_validation_names_every_problem_and_writes_nothing():
    entry = FaqEntryFactory(question="Original?")

    with pytest.raises(merchant.MerchantInputError) as raised:
        merchant.faq_entry_update(
            faq_entry_id=entry.id, topic="weather", question=" ", answer_en=""
        )

    assert str(raised.value) == (
        "Topic must be one of: return_refund, shipping_delivery, payment_issue, faq. "
        "Write the question. Write the English answer."
    )
    entry.refresh_from_db()
    assert entry.question == "Original?"
