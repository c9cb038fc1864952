"""What merchants change: relabelled messages, intent examples, FAQ entries.

Every function validates its input and raises :class:`MerchantInputError` (a ``ValueError``
with a message fit to show the merchant) before writing anything.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from chatbot.engine.tokenize import detect_language, normalize
from chatbot.models import FaqEntry, IntentExample, Message
from chatbot.selectors.training import intent_names

EXAMPLE_MAX_CHARS = IntentExample._meta.get_field("text").max_length
LANGUAGES = ("en", "zh")


class MerchantInputError(ValueError):
    """Bad input from a merchant page; the message says what to fix."""


def _intent_validate(intent: str) -> str:
    intent = (intent or "").strip()
    if intent not in intent_names():
        known = ", ".join(intent_names())
        raise MerchantInputError(
            f"“{intent}” is not an intent the bot knows. Choose one of: {known}."
        )
    return intent


def _example_text_validate(text: str) -> str:
    text = normalize(text or "")
    if not text:
        raise MerchantInputError("Write the example sentence.")
    if len(text) > EXAMPLE_MAX_CHARS:
        raise MerchantInputError(
            f"An example can be at most {EXAMPLE_MAX_CHARS} characters; this one has {len(text)}."
        )
    return text


# --- relabelling --------------------------------------------------------------------------------


def message_relabel(*, message_id: int, intent: str, staff_user: AbstractBaseUser) -> Message:
    """Correct a customer message's intent; the message becomes a training example.

    Sets ``corrected_intent`` and creates (or updates) the message's :class:`IntentExample`
    with source ``relabel``, so the next intent training learns it. When the same sentence is
    already an example of that intent, that example is reactivated instead of duplicated.
    """
    intent = _intent_validate(intent)
    with transaction.atomic():
        try:
            message = Message.objects.select_for_update().get(id=message_id)
        except Message.DoesNotExist:
            raise MerchantInputError("That message does not exist.") from None
        if message.sender != Message.Sender.CUSTOMER:
            raise MerchantInputError("Only customer messages can be relabelled.")
        text = _example_text_validate(message.text[:EXAMPLE_MAX_CHARS])
        language = message.language or detect_language(text)
        message.corrected_intent = intent
        message.corrected_by = staff_user
        message.corrected_at = timezone.now()
        message.save(update_fields=["corrected_intent", "corrected_by", "corrected_at"])

        own = IntentExample.objects.select_for_update().filter(message=message).first()
        same = (
            IntentExample.objects.select_for_update()
            .filter(text=text, intent=intent)
            .exclude(id=own.id if own else None)
            .first()
        )
        if same is not None:
            same.is_active = True
            same.save(update_fields=["is_active"])
            if own is not None:
                own.is_active = False
                own.save(update_fields=["is_active"])
        elif own is not None:
            own.text, own.intent, own.language = text, intent, language
            own.source, own.is_active, own.created_by = (
                IntentExample.Source.RELABEL,
                True,
                staff_user,
            )
            own.save()
        else:
            IntentExample.objects.create(
                text=text,
                intent=intent,
                language=language,
                source=IntentExample.Source.RELABEL,
                message=message,
                created_by=staff_user,
            )
    return message


# --- intent examples ------------------------------------------------------------------------------


def intent_example_create(
    *,
    text: str,
    intent: str,
    staff_user: AbstractBaseUser | None,
    language: str | None = None,
) -> IntentExample:
    """Add a merchant's example sentence (an inactive identical one is reactivated)."""
    text = _example_text_validate(text)
    intent = _intent_validate(intent)
    language = language or detect_language(text)
    if language not in LANGUAGES:
        raise MerchantInputError(f"Language must be one of: {', '.join(LANGUAGES)}.")
    with transaction.atomic():
        existing = (
            IntentExample.objects.select_for_update().filter(text=text, intent=intent).first()
        )
        if existing is not None:
            if existing.is_active:
                raise MerchantInputError(f"“{text}” is already an example of {intent}.")
            existing.is_active = True
            existing.language = language
            existing.save(update_fields=["is_active", "language"])
            return existing
        return IntentExample.objects.create(
            text=text,
            intent=intent,
            language=language,
            source=IntentExample.Source.MERCHANT,
            created_by=staff_user,
        )


def intent_example_deactivate(*, example_id: int) -> IntentExample:
    """Stop training on an example (kept, so it can be reactivated and its history read)."""
    updated = IntentExample.objects.filter(id=example_id).update(is_active=False)
    if not updated:
        raise MerchantInputError("That example does not exist.")
    return IntentExample.objects.get(id=example_id)


# --- FAQ entries ----------------------------------------------------------------------------------

FAQ_FIELDS = ("topic", "question", "keywords", "answer_en", "answer_zh", "is_published", "position")


def _faq_validate(
    *,
    topic: str,
    question: str,
    keywords: str,
    answer_en: str,
    answer_zh: str,
    position: int,
) -> dict:
    errors = []
    if topic not in FaqEntry.Topic.values:
        errors.append(f"Topic must be one of: {', '.join(FaqEntry.Topic.values)}.")
    question = (question or "").strip()
    answer_en = (answer_en or "").strip()
    if not question:
        errors.append("Write the question.")
    if len(question) > FaqEntry._meta.get_field("question").max_length:
        errors.append("The question is too long (300 characters at most).")
    if not answer_en:
        errors.append("Write the English answer.")
    keywords = ", ".join(word.strip() for word in (keywords or "").split(",") if word.strip())
    if len(keywords) > FaqEntry._meta.get_field("keywords").max_length:
        errors.append("Too many keywords (300 characters at most).")
    if not 0 <= int(position) <= 32767:
        errors.append("Position must be between 0 and 32767.")
    if errors:
        raise MerchantInputError(" ".join(errors))
    return {
        "topic": topic,
        "question": question,
        "keywords": keywords,
        "answer_en": answer_en,
        "answer_zh": (answer_zh or "").strip(),
        "position": int(position),
    }


def faq_entry_create(
    *,
    topic: str,
    question: str,
    answer_en: str,
    answer_zh: str = "",
    keywords: str = "",
    is_published: bool = True,
    position: int = 0,
) -> FaqEntry:
    fields = _faq_validate(
        topic=topic,
        question=question,
        keywords=keywords,
        answer_en=answer_en,
        answer_zh=answer_zh,
        position=position,
    )
    return FaqEntry.objects.create(**fields, is_published=is_published)


def faq_entry_update(
    *,
    faq_entry_id: int,
    topic: str,
    question: str,
    answer_en: str,
    answer_zh: str = "",
    keywords: str = "",
    is_published: bool = True,
    position: int = 0,
) -> FaqEntry:
    fields = _faq_validate(
        topic=topic,
        question=question,
        keywords=keywords,
        answer_en=answer_en,
        answer_zh=answer_zh,
        position=position,
    )
    with transaction.atomic():
        try:
            entry = FaqEntry.objects.select_for_update().get(id=faq_entry_id)
        except FaqEntry.DoesNotExist:
            raise MerchantInputError("That FAQ entry does not exist.") from None
        for name, value in {**fields, "is_published": is_published}.items():
            setattr(entry, name, value)
        entry.save()
    return entry


def faq_entry_publish_set(*, faq_entry_id: int, is_published: bool) -> FaqEntry:
    updated = FaqEntry.objects.filter(id=faq_entry_id).update(
        is_published=is_published, updated_at=timezone.now()
    )
    if not updated:
        raise MerchantInputError("That FAQ entry does not exist.")
    return FaqEntry.objects.get(id=faq_entry_id)


def faq_entry_delete(*, faq_entry_id: int) -> None:
    deleted, _ = FaqEntry.objects.filter(id=faq_entry_id).delete()
    if not deleted:
        raise MerchantInputError("That FAQ entry does not exist.")
