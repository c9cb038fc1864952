"""The chat widget on the storefront in a real headless Chromium, against a live daphne server.

pytest-django's ``live_server`` speaks WSGI only, so this module runs daphne (HTTP, static files
and websockets) in a thread of the test process on a free loopback port. Twisted's reactor
cannot be restarted, so one server serves the whole module.

Playwright's sync API runs an event loop in the main thread while it is open, and Django
refuses ORM calls from a thread with a running loop: rows are written before the browser starts
and read back after it closes.
"""

import os
import threading
from pathlib import Path

import pytest
from django.db import connections

from chatbot.models import Conversation
from tests.browser import BROWSER_MARKS, chromium_launch, page_open, staff_log_in

XSS = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def daphne_url():
    from daphne.server import Server
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from twisted.internet import reactor

    from shopops.asgi import application

    ready = threading.Event()
    server = Server(
        ASGIStaticFilesHandler(application),
        endpoints=["tcp:port=0:interface=127.0.0.1"],
        signal_handlers=False,
        verbosity=0,
        ready_callable=ready.set,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert ready.wait(10)
    for _ in range(100):
        if server.listening_addresses:
            break
        threading.Event().wait(0.05)
    host, port = server.listening_addresses[0]
    yield f"http://{host}:{port}"
    reactor.callFromThread(reactor.stop)
    thread.join(5)


@pytest.fixture
def live_chat(daphne_url, transactional_db, monkeypatch):
    """The server's threads see the committed rows of the test database.

    They close their connections after each use, or the test database could not be dropped.
    """
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    return daphne_url


def _launch(playwright):
    browser = chromium_launch(playwright)
    page, errors = page_open(browser, height=860, timeout_ms=30_000)
    return browser, page, errors


def _send(page, text: str) -> None:
    page.fill(".shopops-chat-input", text)
    page.click(".shopops-chat-send")


def test_a_customer_chats_sees_product_cards_and_injected_html_stays_text(
    live_chat, mugs, tmp_path
):
    from playwright.sync_api import sync_playwright

    # SCREENSHOT_DIR keeps the screenshots for a person to look at.
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser, page, errors = _launch(playwright)
        try:
            page.goto(f"{live_chat}/")
            # closed at first: only the launcher shows
            assert page.is_hidden(".shopops-chat-panel")
            page.click(".shopops-chat-launcher")
            page.wait_for_selector(".shopops-chat-status:text('online')")

            _send(page, "show me ceramic mugs")
            page.wait_for_selector(".shopops-chat-bot .shopops-chat-card")
            card_names = page.locator(".shopops-chat-card-name").all_inner_texts()
            card_links = page.locator("a.shopops-chat-card").evaluate_all(
                "links => links.map(a => new URL(a.href).pathname)"
            )
            card_prices = page.locator(".shopops-chat-card-price").all_inner_texts()
            page.screenshot(path=str(shots / "chat_widget_cards.png"))

            _send(page, XSS)
            page.wait_for_function(
                "() => document.querySelectorAll('.shopops-chat-bot').length >= 2"
            )
            shown = page.locator(".shopops-chat-customer .shopops-chat-text").last.inner_text()
            injected = page.evaluate(
                "() => ({xss: typeof window.__xss, scripts: document.querySelectorAll("
                "'.shopops-chat script, .shopops-chat img[src=\"x\"]').length})"
            )
            page.screenshot(path=str(shots / "chat_widget_xss.png"))

            # a page load keeps the conversation (token in localStorage + server history)
            page.reload()
            page.wait_for_selector(".shopops-chat-status:text('online')")
            page.wait_for_selector(".shopops-chat-bot .shopops-chat-card")
            after_reload = page.locator(".shopops-chat-msg .shopops-chat-text").all_inner_texts()

            # a dropped connection comes back by itself and the chat goes on
            page.evaluate("() => window.ShopOpsChat.disconnect()")
            page.wait_for_selector(".shopops-chat-status:text('reconnecting…')")
            page.wait_for_selector(".shopops-chat-status:text('online')")
            _send(page, "thanks")
            page.wait_for_function(
                "() => document.querySelectorAll('.shopops-chat-bot').length >= 3"
            )
            page.screenshot(path=str(shots / "chat_widget_reloaded.png"))
        finally:
            browser.close()

    assert errors == []
    assert sorted(card_names) == ["Blue Ceramic Mug", "Red Ceramic Mug"]
    assert sorted(card_links) == sorted(f"/products/{mug.id}/" for mug in mugs)
    assert len(card_prices) == 2
    assert all(price.strip() for price in card_prices)
    assert shown == XSS
    assert injected == {"xss": "undefined", "scripts": 0}
    assert after_reload[0] == "show me ceramic mugs"
    assert XSS in after_reload
    conversation = Conversation.objects.get()
    assert list(conversation.messages.filter(sender="customer").values_list("text", flat=True)) == [
        "show me ceramic mugs",
        XSS,
        "thanks",
    ]


def test_staff_take_over_in_the_console_and_reply_to_the_widget_live(
    live_chat, mugs, staff_user, tmp_path
):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser, customer, customer_errors = _launch(playwright)
        # new_page opens its own browser context: the staff's cookies stay apart.
        staff, staff_errors = page_open(browser, height=860, timeout_ms=30_000)
        try:
            customer.goto(f"{live_chat}/")
            customer.click(".shopops-chat-launcher")
            _send(customer, "show me ceramic mugs")
            customer.wait_for_selector(".shopops-chat-bot .shopops-chat-card")

            staff_log_in(staff, live_chat, "/dashboard/chat/live/")
            staff.wait_for_selector("[data-console-status]:text('connected')")
            staff.click("[data-live-list] li")
            staff.wait_for_selector("[data-transcript] li.customer:text('show me ceramic mugs')")
            staff.click("[data-take-over]")
            customer.wait_for_selector(".shopops-chat-status:text('you are talking to our staff')")

            _send(customer, "can a person help me?")
            staff.wait_for_selector("[data-transcript] li.customer:text('can a person help me?')")
            staff.fill("[data-reply-input]", "Hi, I am Sam from the shop.")
            staff.click("[data-reply-send]")
            customer.wait_for_selector(
                ".shopops-chat-staff:has-text('Hi, I am Sam from the shop.')"
            )
            staff_label = customer.locator(".shopops-chat-staff .shopops-chat-from").inner_text()
            typing_hidden = customer.is_hidden(".shopops-chat-typing")
            customer.screenshot(path=str(shots / "chat_widget_staff.png"))
            staff.screenshot(path=str(shots / "chat_console.png"), full_page=True)

            staff.click("[data-hand-back]")
            customer.wait_for_selector(".shopops-chat-status:text('online')")
            _send(customer, "thanks")
            customer.wait_for_function(
                "() => document.querySelectorAll('.shopops-chat-bot').length >= 2"
            )
            # The console hears of the hand-back over its own socket: wait for it, don't race it.
            staff.wait_for_selector("[data-live-list] li .badge:text('bot answers')")
            live_modes = staff.locator("[data-live-list] li .badge").all_inner_texts()
        finally:
            browser.close()

    assert customer_errors == staff_errors == []
    assert staff_label.lower() == "shop staff"
    assert typing_hidden is True
    assert live_modes == ["bot answers"]
    conversation = Conversation.objects.get()
    assert conversation.mode == "bot"
    assert list(conversation.messages.values_list("sender", "text")) == [
        ("customer", "show me ceramic mugs"),
        ("bot", conversation.messages.filter(sender="bot").first().text),
        ("system", "merchant joined the conversation."),
        ("customer", "can a person help me?"),
        ("staff", "Hi, I am Sam from the shop."),
        ("system", "The shop assistant is back."),
        ("customer", "thanks"),
        ("bot", conversation.messages.filter(sender="bot").last().text),
    ]
