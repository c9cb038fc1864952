"""Conversations for the merchant's transcript pages."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from chatbot.models import Conversation, Message


def conversations_list(
    *,
    mode: str | None = None,
    intent: str | None = None,
    is_fallback_only: bool = False,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Conversation]:
    """Conversations, latest activity first, each with its customer and message counts.

    ``intent`` matches a customer message's recognised or corrected intent; ``date_from`` /
    ``date_to`` bound the day the conversation started (both inclusive).
    """
    conversations = Conversation.objects.select_related("customer", "assigned_to").annotate(
        customer_messages=Count("messages", filter=Q(messages__sender=Message.Sender.CUSTOMER)),
        fallback_messages=Count("messages", filter=Q(messages__is_fallback=True)),
    )
    if mode:
        conversations = conversations.filter(mode=mode)
    if intent:
        conversations = conversations.filter(
            Exists(
                Message.objects.filter(
                    conversation=OuterRef("pk"), sender=Message.Sender.CUSTOMER
                ).filter(Q(intent=intent, corrected_intent="") | Q(corrected_intent=intent))
            )
        )
    if is_fallback_only:
        conversations = conversations.filter(
            Exists(Message.objects.filter(conversation=OuterRef("pk"), is_fallback=True))
        )
    if date_from:
        conversations = conversations.filter(created_at__date__gte=date_from)
    if date_to:
        conversations = conversations.filter(created_at__date__lte=date_to)
    return conversations.order_by("-last_message_at", "-created_at", "-id")


def conversation_transcript(*, conversation_id: int) -> tuple[Conversation, list[Message]]:
    """A conversation and every message, oldest first, with intent, confidence and entities.

    Raises ``Conversation.DoesNotExist``.
    """
    conversation = Conversation.objects.select_related("customer", "assigned_to").get(
        id=conversation_id
    )
    messages = list(
        Message.objects.filter(conversation_id=conversation_id)
        .select_related("staff_user", "corrected_by")
        .order_by("created_at", "id")
    )
    return conversation, messages
