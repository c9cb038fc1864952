"""Websocket edges of the chatbot: the customer's chat and the merchant's live console.

Both consumers only parse frames, load state, call one service and send what it returns; the
dialogue itself lives in ``chatbot.services.conversations`` and the pure engine behind it. A
customer message's turn runs in a worker process (``chatbot.turn_workers``, where
``CHAT_TURN_PROCESSES`` > 0), every other service in a worker thread through
``database_sync_to_async``.

Customer protocol (``/ws/chat/``), JSON text frames:

- client ``{"type": "hello", "token": "<uuid>" | null}``: open or resume a conversation; the
  server answers ``{"type": "welcome", "token", "mode", "history": [message, ...]}``. A
  ``message`` sent before any ``hello`` opens a new conversation first.
- client ``{"type": "message", "text": "..."}``: the server answers ``{"type": "typing"}``,
  then ``{"type": "sent", "message"}`` (the stored customer message) and, unless staff answer
  this conversation, ``{"type": "message", "message"}`` with the bot's reply.
- server ``{"type": "message", "message"}`` also carries staff replies and system notes in
  real time, and ``{"type": "mode", "mode"}`` when staff take over or hand back.
- server ``{"type": "error", "code", "message"}`` for a bad frame; the connection stays open.

Staff protocol (``/ws/chat/staff/``, staff only): the server pushes ``{"type": "live",
"conversations"}`` whenever a conversation changes; the client sends ``open``, ``take_over``,
``reply`` (with ``text``) and ``hand_back``, each with ``conversation_id``.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chatbot.models import Conversation
from chatbot.services import conversations
from chatbot.turn_workers import conversation_message_handle_in_worker, turn_pool_start

logger = logging.getLogger(__name__)


def _service(function):
    """Run a service in the chat's worker threads (``CHAT_SERVICE_THREADS``).

    Measured with bench/chat_load.py (100 clients, PostgreSQL, in-memory layer, 2 cores, the
    turns in threads): asyncio's default pool (six threads) lost to one thread (p95 168 vs
    122 ms): a turn is mostly Python work, and many threads only fight over the GIL. Two
    threads won over one (p95 40-61 vs 88-122 ms): while one turn waits on a database round
    trip the other runs. Worker processes beat both (``chatbot.turn_workers``).
    With one thread (SQLite, which takes one writer at a time) services run in asgiref's
    thread-sensitive thread, as every other database call of the consumers does.
    """
    threads = settings.CHAT_SERVICE_THREADS
    if threads <= 1:
        return database_sync_to_async(function)
    return database_sync_to_async(function, thread_sensitive=False, executor=_executor(threads))


@functools.cache
def _executor(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chat-service")


#: Every staff console listens here for "the live list changed".
STAFF_GROUP = "chat.staff"
#: Close code for a staff socket opened by someone who is not staff (4000-4999: application).
CLOSE_FORBIDDEN = 4403


def customer_group(conversation_id: int) -> str:
    """The group of the customer sockets showing one conversation."""
    return f"chat.customer.{conversation_id}"


def conversation_group(conversation_id: int) -> str:
    """The group of the staff consoles that have one conversation open."""
    return f"chat.conversation.{conversation_id}"


def max_frame_bytes() -> int:
    """Largest frame read at all: a maximal message in 4-byte UTF-8 plus its JSON envelope."""
    return settings.CHAT_MESSAGE_MAX_CHARS * 4 + 1024


class FrameError(ValueError):
    """A frame the consumer cannot act on; ``code`` and the message go back to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _frame_parse(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    if text_data is None:
        raise FrameError("bad_frame", "Binary frames are not supported; send JSON text.")
    # Measure before parsing so a huge frame costs no JSON work; len() in characters is a
    # lower bound of the UTF-8 size, the exact size only matters near the limit.
    if len(text_data) > max_frame_bytes() or len(text_data.encode()) > max_frame_bytes():
        raise FrameError("too_large", "That message is too long.")
    try:
        frame = json.loads(text_data)
    except ValueError:
        raise FrameError("bad_frame", "Frames must be JSON objects.") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("bad_frame", 'Frames must be JSON objects with a "type".')
    return frame


def _text_field(frame: dict[str, Any]) -> str:
    text = frame.get("text")
    if not isinstance(text, str) or not text.strip():
        raise FrameError("bad_message", 'A message needs a non-empty "text" string.')
    if len(text) > settings.CHAT_MESSAGE_MAX_CHARS:
        raise FrameError(
            "too_large", f"Messages are limited to {settings.CHAT_MESSAGE_MAX_CHARS} characters."
        )
    return text


def _conversation_id_field(frame: dict[str, Any]) -> int:
    value = frame.get("conversation_id")
    # bool is an int subclass; True is not conversation 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise FrameError("bad_frame", 'This action needs a positive integer "conversation_id".')
    return value


def _token_field(frame: dict[str, Any]) -> str | None:
    token = frame.get("token")
    if token in (None, ""):
        return None
    if not isinstance(token, str):
        raise FrameError("bad_frame", '"token" must be a string.')
    try:
        return str(uuid.UUID(token))
    except ValueError:
        # A stale or mangled token from localStorage starts a new conversation, not an error.
        return None


class RateLimit:
    """At most ``limit`` events in any ``seconds`` window (sliding), per connection."""

    def __init__(self, *, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._times: deque[float] = deque()

    def allow(self) -> bool:
        now = time.monotonic()
        while self._times and now - self._times[0] >= self.seconds:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


class _JsonConsumer(AsyncWebsocketConsumer):
    """Frame parsing, the rate limit and error replies shared by both consumers."""

    async def connect(self) -> None:
        self.rate_limit = RateLimit(
            limit=settings.CHAT_RATE_LIMIT_MESSAGES, seconds=settings.CHAT_RATE_LIMIT_SECONDS
        )

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first closes stale database connections, a hop to a thread for
        # every frame and channel-layer event; in a busy chat process that hop was a tenth of
        # the event loop's time. These consumers reach the database only through
        # database_sync_to_async or a turn worker, which close stale connections around each
        # call already.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, ensure_ascii=False))

    async def send_error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Junk counts against the limit too, or a client could flood with it for free.
        if not self.rate_limit.allow():
            await self.send_error(
                "rate_limited", "You are sending messages too quickly; please wait a moment."
            )
            return
        try:
            frame = _frame_parse(text_data, bytes_data)
            await self.frame_handle(frame)
        except FrameError as error:
            await self.send_error(error.code, str(error))
        except conversations.ChatInputError as error:
            await self.send_error("bad_message", str(error))
        except PermissionError as error:
            await self.send_error("forbidden", str(error))
        except Exception:
            # One failed turn must not drop the customer's connection (and their chat window);
            # the service's transaction already rolled back, so nothing half-written remains.
            logger.exception("chat frame failed")
            await self.send_error("server_error", "Sorry, something went wrong. Please try again.")

    async def frame_handle(self, frame: dict[str, Any]) -> None:
        raise NotImplementedError


class ChatConsumer(_JsonConsumer):
    """One customer's chat: anonymous visitors by session, logged-in customers by user."""

    conversation_id: int | None = None
    mode: str = Conversation.Mode.BOT

    async def connect(self) -> None:
        await super().connect()
        self.user = self.scope.get("user")
        self.session = self.scope.get("session")
        if settings.CHAT_TURN_PROCESSES > 0:
            turn_pool_start(processes=settings.CHAT_TURN_PROCESSES)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(
                customer_group(self.conversation_id), self.channel_name
            )

    async def _session_key(self) -> str:
        if self.session is None:
            return ""
        if not self.session.session_key:
            # The socket cannot set a cookie, so this key only ties this connection's
            # conversation to a session row; pages that set the cookie make resume work.
            await database_sync_to_async(self.session.save)()
        return self.session.session_key or ""

    async def _open(self, token: str | None) -> None:
        user = self.user if self.user is not None and self.user.is_authenticated else None
        session_key = await self._session_key()
        conversation = await _service(conversations.conversation_open)(
            user=user, session_key=session_key, token=token
        )
        history = await _service(conversations.conversation_history)(
            conversation_id=conversation.pk
        )
        if self.conversation_id is not None and self.conversation_id != conversation.pk:
            await self.channel_layer.group_discard(
                customer_group(self.conversation_id), self.channel_name
            )
        self.conversation_id = conversation.pk
        self.mode = conversation.mode
        await self.channel_layer.group_add(customer_group(conversation.pk), self.channel_name)
        await self.send_json(
            {
                "type": "welcome",
                "token": str(conversation.token),
                "mode": conversation.mode,
                "history": history,
            }
        )

    async def frame_handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "hello":
            await self._open(_token_field(frame))
        elif kind == "message":
            text = _text_field(frame)
            if self.conversation_id is None:
                await self._open(None)
            await self._message(text)
        else:
            raise FrameError("bad_frame", f"Unknown frame type {kind[:40]!r}.")

    async def _message(self, text: str) -> None:
        conversation_id = self.conversation_id
        if self.mode == Conversation.Mode.BOT:
            # Only the bot "types"; while staff answer, their console decides when to reply.
            await self.send_json({"type": "typing"})
        if settings.CHAT_TURN_PROCESSES > 0:
            exchange = await conversation_message_handle_in_worker(
                processes=settings.CHAT_TURN_PROCESSES, conversation_id=conversation_id, text=text
            )
        else:
            exchange = await _service(conversations.conversation_message_handle)(
                conversation_id=conversation_id, text=text
            )
        self.mode = exchange.mode
        await self.send_json({"type": "sent", "message": exchange.customer_message})
        if exchange.reply is not None:
            await self.send_json({"type": "message", "message": exchange.reply})
        # Staff hear about it after the customer has the reply, so the console never delays
        # the bot's answer. One event to every console: those with this conversation open
        # show both messages, and every console's live list changed. On the Redis layer each
        # group_send costs round trips, even to an empty group, so one is all a message sends.
        await self.channel_layer.group_send(
            STAFF_GROUP,
            {
                "type": "chat.messages",
                "conversation_id": conversation_id,
                "messages": [
                    message
                    for message in (exchange.customer_message, exchange.reply)
                    if message is not None
                ],
            },
        )
        if exchange.handoff_started:
            await self.send_json({"type": "mode", "mode": exchange.mode})

    # --- channel layer events -------------------------------------------------------------

    async def chat_message(self, event: dict[str, Any]) -> None:
        """A staff reply or a system note for this conversation."""
        if event["message"].get("sender") != "customer":
            await self.send_json({"type": "message", "message": event["message"]})

    async def chat_mode(self, event: dict[str, Any]) -> None:
        self.mode = event["mode"]
        await self.send_json({"type": "mode", "mode": event["mode"]})


class StaffConsoleConsumer(_JsonConsumer):
    """The merchant's live console: the list of open conversations and one open transcript."""

    open_id: int | None = None

    async def connect(self) -> None:
        await super().connect()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        await self.channel_layer.group_add(STAFF_GROUP, self.channel_name)
        await self.accept()
        await self._send_live()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(STAFF_GROUP, self.channel_name)
        if self.open_id is not None:
            await self.channel_layer.group_discard(
                conversation_group(self.open_id), self.channel_name
            )

    async def _send_live(self) -> None:
        live = await _service(conversations.conversations_live)()
        await self.send_json({"type": "live", "conversations": live})

    async def frame_handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind not in {"open", "take_over", "reply", "hand_back"}:
            raise FrameError("bad_frame", f"Unknown frame type {kind[:40]!r}.")
        conversation_id = _conversation_id_field(frame)
        if kind == "open":
            await self._open(conversation_id)
            return
        try:
            if kind == "reply":
                text = _text_field(frame)
                message = await _service(conversations.conversation_staff_reply)(
                    conversation_id=conversation_id, staff_user=self.user, text=text
                )
            elif kind == "take_over":
                message = await _service(conversations.conversation_take_over)(
                    conversation_id=conversation_id, staff_user=self.user
                )
            else:
                message = await _service(conversations.conversation_hand_back)(
                    conversation_id=conversation_id, staff_user=self.user
                )
        except Conversation.DoesNotExist:
            raise FrameError("not_found", "No such conversation.") from None
        event = {"type": "chat.message", "conversation_id": conversation_id, "message": message}
        await self.channel_layer.group_send(customer_group(conversation_id), event)
        await self.channel_layer.group_send(conversation_group(conversation_id), event)
        if kind != "reply":
            mode = "human" if kind == "take_over" else "bot"
            mode_event = {"type": "chat.mode", "conversation_id": conversation_id, "mode": mode}
            await self.channel_layer.group_send(customer_group(conversation_id), mode_event)
            await self.channel_layer.group_send(conversation_group(conversation_id), mode_event)
        await self.channel_layer.group_send(
            STAFF_GROUP, {"type": "chat.live_changed", "conversation_id": conversation_id}
        )

    async def _open(self, conversation_id: int) -> None:
        try:
            history = await _service(conversations.conversation_history)(
                conversation_id=conversation_id
            )
        except Conversation.DoesNotExist:
            raise FrameError("not_found", "No such conversation.") from None
        if self.open_id is not None:
            await self.channel_layer.group_discard(
                conversation_group(self.open_id), self.channel_name
            )
        self.open_id = conversation_id
        await self.channel_layer.group_add(conversation_group(conversation_id), self.channel_name)
        await self.send_json(
            {"type": "history", "conversation_id": conversation_id, "messages": history}
        )

    # --- channel layer events -------------------------------------------------------------

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "message",
                "conversation_id": event["conversation_id"],
                "message": event["message"],
            }
        )

    async def chat_messages(self, event: dict[str, Any]) -> None:
        """A customer message and the bot's reply (sent to every console): one ``message``
        frame each, in order, where this console has the conversation open; then the live
        list, which they changed."""
        if event["conversation_id"] == self.open_id:
            for message in event["messages"]:
                await self.chat_message(
                    {"conversation_id": event["conversation_id"], "message": message}
                )
        await self._send_live()

    async def chat_mode(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "mode", "conversation_id": event["conversation_id"], "mode": event["mode"]}
        )

    async def chat_live_changed(self, event: dict[str, Any]) -> None:
        await self._send_live()
