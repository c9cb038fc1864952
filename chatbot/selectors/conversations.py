"""Reads of conversations and their messages, as the dicts the widget and the console use."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, OuterRef, Subquery, Value, When

from chatbot.models import Conversation, Message

LIVE_LIMIT = 100


def message_dict(message: Message) -> dict[str, Any]:
    """The one message shape every client reads (see the chatbot contract)."""
    payload = message.payload or {}
    return {
        "id": message.id,
        "sender": message.sender,
        "text": message.text,
        "cards": payload.get("cards", []),
        "quick_replies": payload.get("quick_replies", []),
        "order": payload.get("order"),
        "created_at": message.created_at.isoformat() if message.created_at else None,
        "intent": message.intent,
        "confidence": message.confidence,
    }


def conversation_history(*, conversation_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The last ``limit`` messages of a conversation, oldest first.

    Raises ``Conversation.DoesNotExist`` for an unknown id (checked only when no message
    came back, so the usual call stays one query).
    """
    latest = list(
        Message.objects.filter(conversation_id=conversation_id).order_by("-created_at", "-id")[
            : max(0, limit)
        ]
    )
    if not latest and not Conversation.objects.filter(id=conversation_id).exists():
        raise Conversation.DoesNotExist(f"No conversation {conversation_id}.")
    return [message_dict(message) for message in reversed(latest)]


def conversation_summary(conversation: Conversation, last_text: str = "") -> dict[str, Any]:
    customer = conversation.customer
    return {
        "id": conversation.id,
        "mode": conversation.mode,
        "customer": (customer.name or customer.email or f"customer {customer.id}")
        if customer
        else "",
        "language": conversation.language,
        "handoff_reason": conversation.handoff_reason,
        "handed_over_at": conversation.handed_over_at.isoformat()
        if conversation.handed_over_at
        else None,
        "assigned_to": conversation.assigned_to.get_username() if conversation.assigned_to else "",
        "message_count": conversation.message_count,
        "last_message_at": conversation.last_message_at.isoformat()
        if conversation.last_message_at
        else None,
        "last_message": last_text,
    }


def conversations_live(*, limit: int = LIVE_LIMIT) -> list[dict[str, Any]]:
    """Open conversations for the staff console: waiting for staff first, then newest first."""
    last_text = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("text")[:1]
    )
    rows = (
        Conversation.objects.exclude(mode=Conversation.Mode.CLOSED)
        .filter(message_count__gt=0)
        .select_related("customer", "assigned_to")
        .annotate(
            last_text=Subquery(last_text),
            mode_rank=Case(
                When(mode=Conversation.Mode.WAITING, then=Value(0)),
                When(mode=Conversation.Mode.HUMAN, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            ),
        )
        .order_by("mode_rank", "-last_message_at", "-id")[:limit]
    )
    return [conversation_summary(row, row.last_text or "") for row in rows]
