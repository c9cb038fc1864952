"""The websocket wiring of the chat: the full ASGI application (origin check, sessions, routing).

The consumers run their services in worker threads, so the tests use ``transactional_db``; each
async scenario runs inside ``async_to_sync`` (no pytest-asyncio needed).
"""

import asyncio
import os

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections
from django.test import Client

from chatbot.consumers import CLOSE_FORBIDDEN, max_frame_bytes
from chatbot.models import Conversation, Message
from shopops.asgi import application

ORIGIN = (b"origin", b"http://testserver")
#: The first reply may train the intent model from chatbot/data/intents.csv.
REPLY_TIMEOUT = 60


@pytest.fixture(autouse=True)
def _short_lived_connections(monkeypatch):
    """The consumers' worker threads close their connections after each use, or the test
    database could not be dropped at the end."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def _session_cookie(*, user=None) -> bytes:
    """A ``Cookie`` header value for a saved session (of ``user`` when given)."""
    if user is not None:
        client = Client()
        client.force_login(user)
        key = client.cookies["sessionid"].value
    else:
        session = SessionStore()
        session["visited"] = True
        session.save()
        key = session.session_key
    return f"sessionid={key}".encode()


def _communicator(path: str = "/ws/chat/", *, cookie: bytes | None = None, origin=ORIGIN):
    headers = [origin] if origin is not None else []
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


async def _hello(communicator, token=None) -> dict:
    await communicator.send_json_to({"type": "hello", "token": token})
    return await communicator.receive_json_from(timeout=REPLY_TIMEOUT)


async def _say(communicator, text: str) -> list[dict]:
    """Send a message; return the frames up to and including the bot's reply."""
    await communicator.send_json_to({"type": "message", "text": text})
    frames = []
    while not frames or frames[-1]["type"] not in {"message", "error"}:
        frames.append(await communicator.receive_json_from(timeout=REPLY_TIMEOUT))
    return frames


def _chat(cookie: bytes, *texts: str) -> list[list[dict]]:
    """Connect with ``cookie``, say hello, send each text: each one's frames up to the reply."""

    async def scenario():
        communicator = _communicator(cookie=cookie)
        await communicator.connect()
        await _hello(communicator)
        replies = [await _say(communicator, text) for text in texts]
        await communicator.disconnect()
        return replies

    return async_to_sync(scenario)()


def test_a_message_gets_the_typing_indicator_then_the_bots_reply(mugs):
    cookie = _session_cookie()

    async def scenario():
        communicator = _communicator(cookie=cookie)
        connected, _ = await communicator.connect()
        welcome = await _hello(communicator)
        frames = await _say(communicator, "show me ceramic mugs")
        await communicator.disconnect()
        return connected, welcome, frames

    connected, welcome, frames = async_to_sync(scenario)()

    assert connected is True
    assert welcome["type"] == "welcome"
    assert welcome["mode"] == "bot"
    assert welcome["history"] == []
    assert [frame["type"] for frame in frames] == ["typing", "sent", "message"]
    sent, reply = frames[1]["message"], frames[2]["message"]
    assert (sent["sender"], sent["text"]) == ("customer", "show me ceramic mugs")
    assert reply["sender"] == "bot"
    assert {card["name"] for card in reply["cards"]} == {"Blue Ceramic Mug", "Red Ceramic Mug"}
    conversation = Conversation.objects.get(token=welcome["token"])
    assert list(conversation.messages.values_list("sender", "text")) == [
        ("customer", "show me ceramic mugs"),
        ("bot", reply["text"]),
    ]


def test_junk_frames_get_an_error_and_the_connection_stays_open(transactional_db):
    junk = [
        ({"text_data": "not json"}, "bad_frame"),
        ({"bytes_data": b"\x00\x01binary"}, "bad_frame"),
        ({"text_data": "x" * (max_frame_bytes() + 1)}, "too_large"),
        ({"text_data": "[1, 2, 3]"}, "bad_frame"),
        ({"text_data": '{"text": "no type"}'}, "bad_frame"),
        ({"text_data": '{"type": "message"}'}, "bad_message"),
        ({"text_data": '{"type": "message", "text": 5}'}, "bad_message"),
        ({"text_data": '{"type": "message", "text": "   "}'}, "bad_message"),
        ({"text_data": '{"type": "message", "text": "' + "a" * 1001 + '"}'}, "too_large"),
        ({"text_data": '{"type": "launch_missiles"}'}, "bad_frame"),
    ]

    async def scenario():
        communicator = _communicator()
        await communicator.connect()
        answers = []
        for frame, _ in junk:
            await communicator.send_to(**frame)
            answers.append(await communicator.receive_json_from(timeout=REPLY_TIMEOUT))
        still_open = await _say(communicator, "hello")
        await communicator.disconnect()
        return answers, still_open

    answers, still_open = async_to_sync(scenario)()

    assert [(answer["type"], answer["code"]) for answer in answers] == [
        ("error", code) for _, code in junk
    ]
    assert all(answer["message"] for answer in answers)
    # A message before any hello opens a conversation: its token comes first.
    assert [frame["type"] for frame in still_open] == ["welcome", "typing", "sent", "message"]
    # Nothing was stored for the junk: one conversation, the greeting and its reply.
    assert Message.objects.count() == 2


def test_the_rate_limit_answers_with_an_error_and_keeps_the_connection(transactional_db, settings):
    settings.CHAT_RATE_LIMIT_MESSAGES = 3
    settings.CHAT_RATE_LIMIT_SECONDS = 60

    async def scenario():
        communicator = _communicator()
        await communicator.connect()
        welcome = await _hello(communicator)
        first = await _say(communicator, "hello")
        second = await _say(communicator, "thanks")
        await communicator.send_json_to({"type": "message", "text": "one too many"})
        limited = await communicator.receive_json_from(timeout=REPLY_TIMEOUT)
        nothing_else = await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return welcome, first, second, limited, nothing_else

    welcome, first, second, limited, nothing_else = async_to_sync(scenario)()

    assert welcome["type"] == "welcome"
    assert first[-1]["type"] == second[-1]["type"] == "message"
    assert (limited["type"], limited["code"]) == ("error", "rate_limited")
    assert nothing_else is True
    assert list(Message.objects.filter(sender="customer").values_list("text", flat=True)) == [
        "hello",
        "thanks",
    ]


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ((b"origin", b"http://testserver"), True),
        ((b"origin", b"http://evil.example"), False),
        ((b"origin", b"https://testserver.evil.example"), False),
        (None, False),
    ],
)
def test_the_origin_must_be_an_allowed_host(transactional_db, origin, accepted):
    async def scenario():
        communicator = _communicator(origin=origin)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is accepted


def test_a_token_resumes_the_conversation_with_its_history_in_the_same_session(
    transactional_db,
):
    cookie, other_cookie = _session_cookie(), _session_cookie()

    async def scenario():
        first = _communicator(cookie=cookie)
        await first.connect()
        welcome = await _hello(first)
        frames = await _say(first, "hello")
        await first.disconnect()

        again = _communicator(cookie=cookie)
        await again.connect()
        resumed = await _hello(again, welcome["token"])
        await again.disconnect()

        # Someone else who learnt the token gets a conversation of their own.
        stranger = _communicator(cookie=other_cookie)
        await stranger.connect()
        foreign = await _hello(stranger, welcome["token"])
        await stranger.disconnect()
        return welcome, frames, resumed, foreign

    welcome, frames, resumed, foreign = async_to_sync(scenario)()

    assert resumed["token"] == welcome["token"]
    assert [(m["sender"], m["text"]) for m in resumed["history"]] == [
        ("customer", "hello"),
        ("bot", frames[-1]["message"]["text"]),
    ]
    assert foreign["token"] != welcome["token"]
    assert foreign["history"] == []


def test_a_logged_in_customer_is_known_and_resumes_from_another_session(
    transactional_db, customer_user
):
    user, customer = customer_user
    laptop, phone = _session_cookie(user=user), _session_cookie(user=user)

    async def scenario():
        first = _communicator(cookie=laptop)
        await first.connect()
        welcome = await _hello(first)
        await _say(first, "hello")
        await first.disconnect()

        second = _communicator(cookie=phone)
        await second.connect()
        resumed = await _hello(second, welcome["token"])
        await second.disconnect()
        return welcome, resumed

    welcome, resumed = async_to_sync(scenario)()

    assert resumed["token"] == welcome["token"]
    assert [m["sender"] for m in resumed["history"]] == ["customer", "bot"]
    assert Conversation.objects.get(token=welcome["token"]).customer_id == customer.id


def test_the_staff_console_rejects_anyone_but_staff(transactional_db, customer_user):
    user, _ = customer_user
    cookies = [None, _session_cookie(user=user)]

    async def scenario():
        results = []
        for cookie in cookies:
            communicator = _communicator("/ws/chat/staff/", cookie=cookie)
            results.append(await communicator.connect())
            await communicator.disconnect()
        return results

    assert async_to_sync(scenario)() == [(False, CLOSE_FORBIDDEN), (False, CLOSE_FORBIDDEN)]


def test_staff_take_over_answer_in_real_time_and_hand_back(transactional_db, staff_user):
    staff_cookie, customer_cookie = _session_cookie(user=staff_user), _session_cookie()

    async def scenario():
        customer = _communicator(cookie=customer_cookie)
        await customer.connect()
        welcome = await _hello(customer)
        await _say(customer, "hello")

        staff = _communicator("/ws/chat/staff/", cookie=staff_cookie)
        staff_connected, _ = await staff.connect()
        live = await staff.receive_json_from(timeout=REPLY_TIMEOUT)
        conversation_id = live["conversations"][0]["id"]
        await staff.send_json_to({"type": "open", "conversation_id": conversation_id})
        history = await staff.receive_json_from(timeout=REPLY_TIMEOUT)

        await staff.send_json_to({"type": "take_over", "conversation_id": conversation_id})
        taken = [await customer.receive_json_from(timeout=REPLY_TIMEOUT) for _ in range(2)]
        await customer.send_json_to({"type": "message", "text": "is anyone there?"})
        customer_after = await customer.receive_json_from(timeout=REPLY_TIMEOUT)
        bot_silent = await customer.receive_nothing(timeout=0.3)
        staff_frames = []
        while not any(
            f["type"] == "message" and f["message"]["text"] == "is anyone there?"
            for f in staff_frames
        ):
            staff_frames.append(await staff.receive_json_from(timeout=REPLY_TIMEOUT))

        await staff.send_json_to(
            {"type": "reply", "conversation_id": conversation_id, "text": "Yes, I am Sam."}
        )
        staff_reply = await customer.receive_json_from(timeout=REPLY_TIMEOUT)

        await staff.send_json_to({"type": "hand_back", "conversation_id": conversation_id})
        handed_back = [await customer.receive_json_from(timeout=REPLY_TIMEOUT) for _ in range(2)]
        bot_again = await _say(customer, "thanks")
        await staff.disconnect()
        await customer.disconnect()
        return (
            welcome,
            staff_connected,
            live,
            history,
            taken,
            customer_after,
            bot_silent,
            staff_reply,
            handed_back,
            bot_again,
        )

    (
        welcome,
        staff_connected,
        live,
        history,
        taken,
        customer_after,
        bot_silent,
        staff_reply,
        handed_back,
        bot_again,
    ) = async_to_sync(scenario)()
    conversation = Conversation.objects.get(token=welcome["token"])

    assert staff_connected is True
    assert [(c["id"], c["mode"]) for c in live["conversations"]] == [(conversation.id, "bot")]
    assert [m["text"] for m in history["messages"]][0] == "hello"
    assert [f["type"] for f in taken] == ["message", "mode"]
    assert taken[0]["message"]["sender"] == "system"
    assert taken[1]["mode"] == "human"
    # While staff answer, the bot neither types nor replies.
    assert customer_after["type"] == "sent"
    assert bot_silent is True
    assert (staff_reply["type"], staff_reply["message"]["sender"]) == ("message", "staff")
    assert staff_reply["message"]["text"] == "Yes, I am Sam."
    assert [f["type"] for f in handed_back] == ["message", "mode"]
    assert handed_back[1]["mode"] == "bot"
    assert [f["type"] for f in bot_again] == ["typing", "sent", "message"]
    assert bot_again[-1]["message"]["sender"] == "bot"
    assert conversation.mode == "bot"
    assert list(conversation.messages.values_list("sender", flat=True)) == [
        "customer",
        "bot",
        "system",
        "customer",
        "staff",
        "system",
        "customer",
        "bot",
    ]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the Redis channel layer")
def test_an_idle_connection_survives_the_redis_layers_blocking_reads(transactional_db):
    # channels_redis blocks 5 s per read; with redis-py's default 5 s socket timeout the
    # consumer used to die after 5 idle seconds.
    async def scenario():
        communicator = _communicator()
        await communicator.connect()
        welcome = await _hello(communicator)
        await asyncio.sleep(6.5)
        frames = await _say(communicator, "hello")
        await communicator.disconnect()
        return welcome, frames

    welcome, frames = async_to_sync(scenario)()

    assert welcome["type"] == "welcome"
    assert [frame["type"] for frame in frames] == ["typing", "sent", "message"]


@pytest.mark.parametrize("threads", [1, 2])
def test_messages_are_answered_in_the_configured_service_threads(
    mugs, settings, monkeypatch, threads
):
    # given: CHAT_SERVICE_THREADS, and a record of the thread each message's service ran in
    import threading

    from chatbot.services import conversations

    settings.CHAT_SERVICE_THREADS = threads
    handle, ran_in = conversations.conversation_message_handle, []

    def recording(**kwargs):
        ran_in.append(threading.current_thread().name)
        return handle(**kwargs)

    monkeypatch.setattr(conversations, "conversation_message_handle", recording)

    # when
    [frames] = _chat(_session_cookie(), "show me ceramic mugs")

    # then: answered, in a chat-service thread only when more than one is configured
    assert frames[-1]["type"] == "message"
    assert len(ran_in) == 1
    assert ran_in[0].startswith("chat-service") == (threads > 1)


def test_frames_skip_channels_per_frame_connection_cleanup(mugs, monkeypatch):
    # given: a record of channels' own stale-connection cleanup, which hops to a thread
    import channels.consumer

    cleanups = []

    async def recording_cleanup():
        cleanups.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", recording_cleanup)
    cookie = _session_cookie()

    async def scenario():
        communicator = _communicator(cookie=cookie)
        await communicator.connect()
        await _hello(communicator)
        frames = await _say(communicator, "show me ceramic mugs")
        await communicator.send_json_to({"type": "nonsense"})
        error = await communicator.receive_json_from(timeout=REPLY_TIMEOUT)
        await communicator.disconnect()
        return frames, error

    # when
    frames, error = async_to_sync(scenario)()

    # then: answered, junk still gets its error, and no frame paid for the cleanup
    assert frames[-1]["type"] == "message"
    assert error["code"] == "bad_frame"
    assert cleanups == []
