"""Chat analytics for the merchant: volume, intents, fallbacks, handoffs, conversions.

Everything is aggregated in the database: one query per figure, whatever the volume.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from chatbot.models import Conversation, Message
from shopops.store.models import Order

#: A conversation "led to an order" when its customer placed one within this long after it began.
CONVERSION_WINDOW = timedelta(days=7)


def analytics_window(*, days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last ``days`` whole days up to now: midnight (current timezone) ``days - 1`` ago."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    start_day = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(start_day, datetime.min.time()))
    return start, now


def _conversations(start: datetime, end: datetime) -> QuerySet[Conversation]:
    return Conversation.objects.filter(created_at__gte=start, created_at__lt=end)


def _customer_messages(start: datetime, end: datetime) -> QuerySet[Message]:
    return Message.objects.filter(
        sender=Message.Sender.CUSTOMER, created_at__gte=start, created_at__lt=end
    )


def chat_volume_by_day(*, start: datetime, end: datetime) -> list[dict]:
    """Per day from ``start`` to ``end``: conversations started and customer messages sent.

    Days without traffic are present with zeros, so a chart's axis has no gaps.
    """
    conversations = dict(
        _conversations(start, end)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    messages = dict(
        _customer_messages(start, end)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    first: date = timezone.localtime(start).date()
    last: date = timezone.localtime(end).date()
    rows = []
    day = first
    while day <= last:
        rows.append(
            {
                "day": day,
                "conversations": conversations.get(day, 0),
                "messages": messages.get(day, 0),
            }
        )
        day += timedelta(days=1)
    return rows


def chat_intent_distribution(*, start: datetime, end: datetime) -> list[dict]:
    """Customer messages per intent (a merchant's correction counts over the recognised one),
    most frequent first; messages the bot did not classify count as ``"unclassified"``."""
    effective = Case(
        When(~Q(corrected_intent=""), then=F("corrected_intent")),
        When(~Q(intent=""), then=F("intent")),
        default=Value("unclassified"),
    )
    rows = (
        _customer_messages(start, end)
        .annotate(effective_intent=effective)
        .values("effective_intent")
        .annotate(n=Count("id"))
        .order_by("-n", "effective_intent")
    )
    return [{"intent": row["effective_intent"], "messages": row["n"]} for row in rows]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def chat_summary(*, start: datetime, end: datetime) -> dict:
    """Totals and rates over the window.

    - ``fallback_rate``: customer messages the bot could not classify confidently / all
      customer messages;
    - ``handoff_rate``: conversations handed to staff (flagged, waiting or staff-answered) /
      conversations;
    - ``converted``: conversations whose customer placed an order (not cancelled) within
      :data:`CONVERSION_WINDOW` after the conversation started; ``conversion_rate`` divides it
      by all conversations.
    """
    ordered_soon_after = Order.objects.filter(
        customer_id=OuterRef("customer_id"),
        placed_at__gte=OuterRef("created_at"),
        placed_at__lt=OuterRef("created_at") + CONVERSION_WINDOW,
    ).exclude(status=Order.Status.CANCELLED)
    conversations = (
        _conversations(start, end)
        .annotate(has_order=Exists(ordered_soon_after))
        .aggregate(
            total=Count("id"),
            with_customer=Count("id", filter=Q(customer__isnull=False)),
            handed_over=Count(
                "id",
                filter=Q(handed_over_at__isnull=False)
                | Q(mode__in=[Conversation.Mode.WAITING, Conversation.Mode.HUMAN]),
            ),
            converted=Count("id", filter=Q(has_order=True, customer__isnull=False)),
        )
    )
    messages = _customer_messages(start, end).aggregate(
        total=Count("id"),
        fallbacks=Count("id", filter=Q(is_fallback=True)),
        relabelled=Count("id", filter=~Q(corrected_intent="")),
    )
    return {
        "conversations": conversations["total"],
        "conversations_with_customer": conversations["with_customer"],
        "handoffs": conversations["handed_over"],
        "handoff_rate": _rate(conversations["handed_over"], conversations["total"]),
        "converted": conversations["converted"],
        "conversion_rate": _rate(conversations["converted"], conversations["total"]),
        "customer_messages": messages["total"],
        "fallbacks": messages["fallbacks"],
        "fallback_rate": _rate(messages["fallbacks"], messages["total"]),
        "relabelled": messages["relabelled"],
    }


def chat_rates_by_day(*, start: datetime, end: datetime) -> list[dict]:
    """Per day: fallback rate of customer messages and handoff rate of conversations started."""
    fallbacks = {
        row["day"]: row
        for row in _customer_messages(start, end)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(total=Count("id"), fallbacks=Count("id", filter=Q(is_fallback=True)))
    }
    handoffs = {
        row["day"]: row
        for row in _conversations(start, end)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            total=Count("id"),
            handed_over=Count(
                "id",
                filter=Q(handed_over_at__isnull=False)
                | Q(mode__in=[Conversation.Mode.WAITING, Conversation.Mode.HUMAN]),
            ),
        )
    }
    rows = []
    for volume in chat_volume_by_day(start=start, end=end):
        day = volume["day"]
        message_row = fallbacks.get(day, {"total": 0, "fallbacks": 0})
        conversation_row = handoffs.get(day, {"total": 0, "handed_over": 0})
        rows.append(
            {
                "day": day,
                "fallback_rate": _rate(message_row["fallbacks"], message_row["total"]),
                "handoff_rate": _rate(conversation_row["handed_over"], conversation_row["total"]),
            }
        )
    return rows
