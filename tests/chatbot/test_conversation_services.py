"""Conversation services with the database: resuming by token, saving a turn atomically,
orders kept private end to end, handoff and staff take-over, and the engine's model reload."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser

from chatbot.engine.intents import IntentClassifier
from chatbot.models import Conversation, Message
from chatbot.services import nlu
from chatbot.services.conversations import (
    ChatInputError,
    conversation_hand_back,
    conversation_history,
    conversation_message_handle,
    conversation_open,
    conversation_staff_reply,
    conversation_take_over,
    conversations_live,
)
from shopops.registry.models import ModelVersion
from shopops.registry.services import _directory_sha256
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    StaffUserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_vocabulary():
    # The engine (and its trained model) is per process; the catalogue is per test.
    nlu.nlu_vocabulary_refresh()
    yield
    nlu.nlu_vocabulary_refresh()


@pytest.fixture
def alice(customer_user):
    user, customer = customer_user
    customer.email = "alice@example.com"
    customer.save()
    return user, customer


@pytest.fixture
def bob_order():
    bob = CustomerFactory(name="Bob", email="bob@example.com")
    return OrderFactory(
        external_number="DEMO100777",
        customer=bob,
        email="bob@example.com",
        status="shipped",
        total=Decimal("42.00"),
        placed_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def _guest(session_key="s-1"):
    return conversation_open(user=AnonymousUser(), session_key=session_key, token=None)


def _say(conversation, text):
    return conversation_message_handle(conversation_id=conversation.id, text=text)


# --- open and resume -----------------------------------------------------------------------------


def test_resume_by_token_in_the_same_session():
    first = _guest("session-a")

    again = conversation_open(user=AnonymousUser(), session_key="session-a", token=str(first.token))

    assert again.id == first.id


def test_another_sessions_token_starts_a_new_conversation():
    first = _guest("session-a")
    _say(first, "hello")

    other = conversation_open(user=AnonymousUser(), session_key="session-b", token=str(first.token))

    assert other.id != first.id
    assert other.session_key == "session-b"
    assert conversation_history(conversation_id=other.id) == []


def test_another_customers_token_is_refused(alice):
    user, _ = alice
    mallory = UserFactory(username="mallory")
    CustomerFactory(user=mallory)
    mine = conversation_open(user=user, session_key="s-alice", token=None)

    theirs = conversation_open(user=mallory, session_key="s-alice", token=str(mine.token))

    assert theirs.id != mine.id


def test_a_logged_in_customer_resumes_from_another_session(alice):
    user, customer = alice
    mine = conversation_open(user=user, session_key="laptop", token=None)

    again = conversation_open(user=user, session_key="phone", token=str(mine.token))

    assert again.id == mine.id
    assert again.customer_id == customer.id


@pytest.mark.parametrize("token", ["not-a-uuid", str(uuid.uuid4()), "", None])
def test_unknown_or_malformed_tokens_start_a_new_conversation(token):
    conversation = conversation_open(user=AnonymousUser(), session_key="s", token=token)

    assert Conversation.objects.filter(id=conversation.id).exists()
    assert conversation.mode == Conversation.Mode.BOT


# --- one turn ------------------------------------------------------------------------------------


def test_a_message_saves_both_messages_and_the_new_state():
    ProductFactory(name="Classic Blue Mug", price=Decimal("12.00"))
    conversation = _guest()

    exchange = _say(conversation, "show me mugs")

    conversation.refresh_from_db()
    assert exchange.mode == "bot"
    assert exchange.handoff_started is False
    assert exchange.customer_message["sender"] == "customer"
    assert exchange.customer_message["intent"] == "product_search"
    assert exchange.reply["sender"] == "bot"
    assert exchange.reply["text"] == "Here is what I found:"
    assert [c["name"] for c in exchange.reply["cards"]] == ["Classic Blue Mug"]
    assert exchange.reply["cards"][0]["price"] == "12.00"
    assert [q["label"] for q in exchange.reply["quick_replies"]] == [
        "How much?",
        "In stock?",
        "Anything cheaper?",
    ]
    assert conversation.message_count == 2
    assert conversation.state["last_products"] == [exchange.reply["cards"][0]["product_id"]]
    assert [m["id"] for m in conversation_history(conversation_id=conversation.id)] == [
        exchange.customer_message["id"],
        exchange.reply["id"],
    ]
    saved = Message.objects.get(id=exchange.customer_message["id"])
    assert saved.language == "en"
    assert saved.confidence == exchange.customer_message["confidence"]


def test_context_carries_over_to_the_next_message():
    ProductFactory(name="Classic Blue Mug", price=Decimal("12.00"))
    conversation = _guest()
    _say(conversation, "show me mugs")

    exchange = _say(conversation, "how much is it?")

    assert exchange.reply["text"] == "Classic Blue Mug costs £12.00."


@pytest.mark.parametrize("text", ["", "   ", "x" * 1001, None])
def test_empty_or_oversized_text_is_refused_and_nothing_is_saved(text):
    conversation = _guest()

    with pytest.raises(ChatInputError) as refused:
        _say(conversation, text)

    assert refused.value.message
    assert Message.objects.count() == 0


def test_a_message_to_a_deleted_conversation_is_refused():
    conversation = _guest()
    conversation.delete()

    with pytest.raises(ChatInputError):
        _say(conversation, "hello")


def test_an_engine_error_saves_nothing(monkeypatch):
    conversation = _guest()
    _say(conversation, "hello")
    engine = nlu.nlu_engine()
    before = Conversation.objects.get(id=conversation.id)

    def broken(*args, **kwargs):
        raise RuntimeError("engine failed")

    monkeypatch.setattr(engine, "handle", broken)
    with pytest.raises(RuntimeError):
        _say(conversation, "show me mugs")

    after = Conversation.objects.get(id=conversation.id)
    assert Message.objects.filter(conversation=conversation).count() == 2
    assert (after.state, after.message_count, after.last_message_at) == (
        before.state,
        before.message_count,
        before.last_message_at,
    )


# --- orders stay private end to end -------------------------------------------------------------


def test_logged_in_customer_asking_about_another_customers_order_learns_nothing(alice, bob_order):
    user, _ = alice
    conversation = conversation_open(user=user, session_key="s", token=None)

    exchange = _say(conversation, "where is my order DEMO100777?")

    assert exchange.reply["order"] is None
    assert exchange.reply["text"] == (
        "I couldn't find order DEMO100777 on your account. Please check the number."
    )
    assert "shipped" not in exchange.reply["text"]


def test_guest_needs_the_orders_email(bob_order):
    wrong = _guest("s-wrong")
    _say(wrong, "where is my order DEMO100777")
    refused = _say(wrong, "alice@example.com")
    right = _guest("s-right")
    _say(right, "where is my order DEMO100777")
    shown = _say(right, "Bob@Example.com")

    assert refused.reply["order"] is None
    assert refused.reply["text"].startswith("I couldn't find an order with that number and email")
    assert shown.reply["order"]["number"] == "DEMO100777"
    assert shown.reply["text"] == "Order DEMO100777 (placed 2026-11-01, £42.00) is shipped."


def test_customer_cancels_their_paid_order(alice):
    user, customer = alice
    order = OrderFactory(external_number="DEMO100900", customer=customer, status="paid")
    conversation = conversation_open(user=user, session_key="s", token=None)

    _say(conversation, "cancel my order DEMO100900")
    done = _say(conversation, "yes")

    order.refresh_from_db()
    assert (
        done.reply["text"] == "Done: order DEMO100900 is cancelled. Any payment will be refunded."
    )
    assert order.status == "cancelled"


# --- handoff and staff ---------------------------------------------------------------------------


def test_handoff_flags_the_conversation_and_stops_the_bot():
    conversation = _guest()

    handoff = _say(conversation, "I want to talk to a human")
    silent = _say(conversation, "hello? anyone there?")

    conversation.refresh_from_db()
    assert handoff.handoff_started is True
    assert handoff.mode == "waiting"
    assert conversation.mode == Conversation.Mode.WAITING
    assert conversation.handoff_reason == "customer asked for a person"
    assert conversation.handed_over_at is not None
    assert silent.reply is None
    assert silent.mode == "waiting"
    assert [m["sender"] for m in conversation_history(conversation_id=conversation.id)] == [
        "customer",
        "bot",
        "customer",
    ]


def test_staff_take_over_reply_and_hand_back():
    staff = StaffUserFactory(username="sam")
    conversation = _guest()
    _say(conversation, "hello")

    joined = conversation_take_over(conversation_id=conversation.id, staff_user=staff)
    staff_message = conversation_staff_reply(
        conversation_id=conversation.id, staff_user=staff, text="Hi, Sam here."
    )
    while_human = _say(conversation, "thanks Sam")
    back = conversation_hand_back(conversation_id=conversation.id, staff_user=staff)
    bot_again = _say(conversation, "hello")

    assert joined["sender"] == "system"
    assert joined["text"] == "sam joined the conversation."
    assert staff_message["sender"] == "staff"
    assert staff_message["text"] == "Hi, Sam here."
    assert while_human.reply is None
    assert while_human.mode == "human"
    assert back["text"] == "The shop assistant is back."
    assert bot_again.reply is not None
    assert bot_again.mode == "bot"
    conversation.refresh_from_db()
    assert conversation.assigned_to is None
    assert conversation.message_count == 8


def test_only_staff_can_take_over():
    conversation = _guest()

    with pytest.raises(PermissionError):
        conversation_take_over(conversation_id=conversation.id, staff_user=UserFactory())


def test_live_conversations_list_waiting_ones_first():
    chatting = _guest("a")
    _say(chatting, "hello")
    waiting = _guest("b")
    _say(waiting, "talk to a human")
    _guest("c")  # never wrote: not live

    live = conversations_live()

    assert [row["id"] for row in live] == [waiting.id, chatting.id]
    assert live[0]["mode"] == "waiting"
    assert live[0]["last_message"] == waiting.messages.last().text


def test_history_of_an_unknown_conversation_raises_does_not_exist():
    with pytest.raises(Conversation.DoesNotExist):
        conversation_history(conversation_id=987654)


def test_history_returns_the_latest_messages_oldest_first():
    conversation = _guest()
    for text in ["hello", "thanks", "bye"]:
        _say(conversation, text)

    history = conversation_history(conversation_id=conversation.id, limit=3)

    assert [m["text"] for m in history][0] == "You're welcome! Anything else I can help with?"
    assert [m["sender"] for m in history] == ["bot", "customer", "bot"]


# --- the engine follows the active intent model --------------------------------------------------


def _active_intent_version(tmp_path, classifier, *, corrupt=False):
    directory = tmp_path / "intent-artifact"
    directory.mkdir()
    classifier.save(directory / "intent")
    digest, _ = _directory_sha256(directory)
    return ModelVersion.objects.create(
        kind="intent",
        version=1,
        status=ModelVersion.Status.ACTIVE,
        artifact_path=str(directory),
        artifact_sha256="0" * 64 if corrupt else digest,
    )


def test_nlu_engine_loads_the_active_intent_version(tmp_path):
    texts = ["hello there", "hi", "where is my parcel", "track my order"] * 3
    labels = ["greet", "greet", "order_status", "order_status"] * 3
    _active_intent_version(tmp_path, IntentClassifier(random_state=0).fit(texts, labels))
    try:
        engine = nlu.nlu_engine()

        assert list(engine.classifier.classes_) == ["greet", "order_status"]
        assert nlu.nlu_engine() is engine
    finally:
        nlu.nlu_engine_reset()


def test_a_corrupt_artifact_falls_back_to_a_working_model(tmp_path):
    texts = ["hello there", "hi", "where is my parcel", "track my order"] * 3
    labels = ["greet", "greet", "order_status", "order_status"] * 3
    _active_intent_version(
        tmp_path, IntentClassifier(random_state=0).fit(texts, labels), corrupt=True
    )
    nlu.nlu_engine_reset()
    try:
        engine = nlu.nlu_engine()

        # the repository file's model: all sixteen intents, not the corrupt two-intent one
        assert len(engine.classifier.classes_) == 16
    finally:
        nlu.nlu_engine_reset()
