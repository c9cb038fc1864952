"""The chat analytics page and a transcript in a real browser: charts drawn, relabel works.

Every row is written before the browser starts and read after it closes: Playwright's sync API
runs an event loop in this thread, and Django refuses ORM calls from such a thread.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from chatbot.models import Conversation, Message
from tests.browser import BROWSER_MARKS, chromium_page, staff_log_in
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory, OrderFactory

pytestmark = BROWSER_MARKS


@pytest.fixture
def chats(transactional_db):
    now = timezone.now()
    customer = CustomerFactory()
    bought = ConversationFactory(customer=customer)
    Conversation.objects.filter(id=bought.id).update(created_at=now - timedelta(days=1))
    for intent in ("greet", "product_search", "price_query"):
        MessageFactory(conversation=bought, intent=intent, confidence=0.9)
    OrderFactory(customer=customer, placed_at=now)
    handed = ConversationFactory(mode=Conversation.Mode.WAITING)
    MessageFactory(conversation=handed, intent="contact_human", confidence=0.8)
    misread = MessageFactory(
        conversation=handed,
        text="<b>yo</b> where my parcel",
        intent="clarify",
        confidence=0.2,
        is_fallback=True,
    )
    return {"misread": misread}


def test_analytics_charts_and_relabelling_in_the_browser(live_server, staff_user, chats, tmp_path):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    misread = chats["misread"]
    with chromium_page() as (page, errors):
        staff_log_in(page, live_server.url, "/dashboard/chat/analytics/")
        page.wait_for_function(
            "() => ['chat-volume-chart', 'chat-intent-chart', 'chat-rates-chart']"
            ".every((id) => Chart.getChart(document.getElementById(id)))"
        )
        cards = {
            name: page.inner_text(f"[data-metric={name}]")
            for name in ("conversations", "fallback_rate", "handoff_rate", "converted")
        }
        intents = page.evaluate(
            "() => { const c = Chart.getChart(document.getElementById('chat-intent-chart'));"
            " return c.data.labels.map((l, i) => [l, c.data.datasets[0].data[i]]); }"
        )
        volume = page.evaluate(
            "() => Chart.getChart(document.getElementById('chat-volume-chart'))"
            ".data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0))"
        )
        page.screenshot(path=str(shots / "chat_analytics.png"), full_page=True)

        # a transcript: the customer's markup is text, and the relabel control corrects it
        page.goto(f"{live_server.url}/dashboard/chat/transcripts/{misread.conversation_id}/")
        shown_text = page.inner_text(f"#message-{misread.id} .text")
        page.select_option(f"#relabel-{misread.id}", "order_status")
        page.click(f"#message-{misread.id} button[type=submit]")
        page.wait_for_selector(f"#message-{misread.id} [data-corrected]")
        notice = page.inner_text("ul.messages")
        page.screenshot(path=str(shots / "chat_transcript.png"), full_page=True)

    assert cards == {
        "conversations": "2",
        "fallback_rate": "20%",
        "handoff_rate": "50%",
        "converted": "1",
    }
    assert sorted(intents) == [
        ["clarify", 1],
        ["contact_human", 1],
        ["greet", 1],
        ["price_query", 1],
        ["product_search", 1],
    ]
    assert volume == [2, 5]
    assert shown_text == "<b>yo</b> where my parcel"
    assert "Relabelled as order_status" in notice
    assert errors == []
    assert Message.objects.get(id=misread.id).corrected_intent == "order_status"
    assert (shots / "chat_analytics.png").stat().st_size > 10_000
