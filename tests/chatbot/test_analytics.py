"""Chat analytics on factory-built conversations: exact counts, aggregated in the database."""

from datetime import UTC, date, datetime, timedelta

import pytest

from chatbot.models import Conversation, Message
from chatbot.selectors import analytics
from shopops.store.models import Order
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory, OrderFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 8, tzinfo=UTC)  # seven days: March 1st to 7th


def _conversation(at: datetime, **fields) -> Conversation:
    conversation = ConversationFactory(**fields)
    Conversation.objects.filter(id=conversation.id).update(created_at=at)
    conversation.refresh_from_db()
    return conversation


def _message(conversation: Conversation, at: datetime, **fields) -> Message:
    message = MessageFactory(conversation=conversation, **fields)
    Message.objects.filter(id=message.id).update(created_at=at)
    return message


@pytest.fixture
def chats():
    alice, bob, carol = CustomerFactory(), CustomerFactory(), CustomerFactory()
    # Alice chats on the 2nd and orders three days later: converted.
    a = _conversation(datetime(2026, 3, 2, 10, tzinfo=UTC), customer=alice)
    _message(a, datetime(2026, 3, 2, 10, tzinfo=UTC), intent="greet")
    _message(a, datetime(2026, 3, 2, 10, 1, tzinfo=UTC), sender="bot", text="Hi!")
    _message(a, datetime(2026, 3, 2, 10, 2, tzinfo=UTC), intent="order_status")
    _message(a, datetime(2026, 3, 2, 10, 3, tzinfo=UTC), intent="clarify", is_fallback=True)
    OrderFactory(customer=alice, placed_at=datetime(2026, 3, 5, 9, tzinfo=UTC))
    # Bob is handed to staff on the 4th; his orders are before the chat or cancelled.
    b = _conversation(
        datetime(2026, 3, 4, 12, tzinfo=UTC),
        customer=bob,
        mode=Conversation.Mode.HUMAN,
        handed_over_at=datetime(2026, 3, 4, 12, 5, tzinfo=UTC),
    )
    _message(b, datetime(2026, 3, 4, 12, tzinfo=UTC), intent="contact_human")
    _message(
        b,
        datetime(2026, 3, 4, 12, 1, tzinfo=UTC),
        intent="price_query",
        corrected_intent="stock_query",
    )
    OrderFactory(customer=bob, placed_at=datetime(2026, 3, 3, 9, tzinfo=UTC))
    OrderFactory(
        customer=bob, placed_at=datetime(2026, 3, 6, 9, tzinfo=UTC), status=Order.Status.CANCELLED
    )
    # An anonymous visitor waits for staff on the 4th.
    c = _conversation(datetime(2026, 3, 4, 20, tzinfo=UTC), mode=Conversation.Mode.WAITING)
    _message(c, datetime(2026, 3, 4, 20, tzinfo=UTC), intent="", is_fallback=True)
    # Carol orders 7 days and 1 minute after her chat: too late to count.
    e = _conversation(datetime(2026, 3, 6, 8, tzinfo=UTC), customer=carol)
    OrderFactory(customer=carol, placed_at=datetime(2026, 3, 13, 8, 1, tzinfo=UTC))
    # Outside the window: ignored everywhere.
    old = _conversation(datetime(2026, 2, 20, tzinfo=UTC), customer=alice)
    _message(old, datetime(2026, 2, 20, tzinfo=UTC), intent="greet")
    return {"a": a, "b": b, "c": c, "e": e}


def test_summary_counts_fallbacks_handoffs_and_conversions(chats, django_assert_num_queries):
    with django_assert_num_queries(2):
        summary = analytics.chat_summary(start=START, end=END)

    assert summary == {
        "conversations": 4,
        "conversations_with_customer": 3,
        "handoffs": 2,
        "handoff_rate": 0.5,
        "converted": 1,
        "conversion_rate": 0.25,
        "customer_messages": 6,
        "fallbacks": 2,
        "fallback_rate": 2 / 6,
        "relabelled": 1,
    }


def test_volume_per_day_has_every_day(chats, django_assert_num_queries):
    with django_assert_num_queries(2):
        volume = analytics.chat_volume_by_day(start=START, end=END - timedelta(microseconds=1))

    assert [(row["day"], row["conversations"], row["messages"]) for row in volume] == [
        (date(2026, 3, 1), 0, 0),
        (date(2026, 3, 2), 1, 3),
        (date(2026, 3, 3), 0, 0),
        (date(2026, 3, 4), 2, 3),
        (date(2026, 3, 5), 0, 0),
        (date(2026, 3, 6), 1, 0),
        (date(2026, 3, 7), 0, 0),
    ]


def test_intent_distribution_counts_corrections_over_the_bots_guess(chats):
    distribution = analytics.chat_intent_distribution(start=START, end=END)

    assert distribution == [
        {"intent": "clarify", "messages": 1},
        {"intent": "contact_human", "messages": 1},
        {"intent": "greet", "messages": 1},
        {"intent": "order_status", "messages": 1},
        {"intent": "stock_query", "messages": 1},
        {"intent": "unclassified", "messages": 1},
    ]


def test_rates_per_day(chats):
    rates = analytics.chat_rates_by_day(start=START, end=END - timedelta(microseconds=1))

    by_day = {row["day"]: (row["fallback_rate"], row["handoff_rate"]) for row in rates}
    assert by_day[date(2026, 3, 2)] == (1 / 3, 0.0)
    assert by_day[date(2026, 3, 4)] == (1 / 3, 1.0)
    assert by_day[date(2026, 3, 6)] == (None, 0.0)
    assert by_day[date(2026, 3, 1)] == (None, None)


def test_an_empty_window_has_no_rates():
    summary = analytics.chat_summary(start=START, end=END)

    assert (summary["conversations"], summary["handoff_rate"], summary["fallback_rate"]) == (
        0,
        None,
        None,
    )


def test_the_window_starts_at_midnight_days_ago():
    start, end = analytics.analytics_window(days=7, now=datetime(2026, 3, 7, 15, tzinfo=UTC))

    assert (start, end) == (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 7, 15, tzinfo=UTC))
