"""Benchmark: how long one chat turn takes, without the websocket.

    .venv/bin/python manage.py seed_demo --customers 300 --no-images   # once, if the shop is empty
    .venv/bin/python bench/chat_turn.py [--rounds 20]

Against the database DATABASE_URL names (the embedded SQLite file when unset), replays a
bilingual script (search, "how much is it?", stock, cheaper, recommendations, FAQ, an order
form with a wrong and a right email, small talk) ``--rounds`` times from a fresh state, and
prints p50 / p95 / max milliseconds and queries per turn for:

- ``engine``: ``DialogueEngine.handle`` alone (NLU, dialogue, the port queries), as the
  customer of the first order that has an email (a guest when that order is a guest's);
- ``service``: ``conversation_message_handle`` in a new guest conversation per round (the
  above plus the locked read of the conversation and the atomic save of both messages and
  the state), what the websocket consumer calls per message. The bench's conversations are
  deleted at the end.

The first message of the run (model training or loading, catalogue vocabulary) and the first
Chinese one (jieba loads its dictionary, ~0.5 s) are reported apart as the warm-up; they are
not per-message costs.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from chatbot.engine.dialogue import DialogueState  # noqa: E402
from chatbot.models import Conversation  # noqa: E402
from chatbot.services.conversations import conversation_message_handle  # noqa: E402
from chatbot.services.nlu import nlu_engine  # noqa: E402
from shopops.store.models import Order  # noqa: E402

SCRIPT = [
    "hello",
    "show me mugs",
    "how much is it?",
    "is it in stock?",
    "anything cheaper?",
    "recommend something",
    "how long does delivery take?",
    "where is my order?",
    "{number}",
    "wrong@example.com",
    "where is my order {number}",
    "{email}",
    "你好",
    "有杯子吗",
    "它多少钱",
    "我要退货",
    "asdkjh qwpoeiru",
    "thanks, bye",
]


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms   max {ordered[-1]:6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    order = Order.objects.exclude(email="").order_by("id").first()
    if order is None:
        sys.exit("No orders: run `manage.py seed_demo --customers 300 --no-images` first.")
    values = {"number": order.external_number, "email": order.email}
    texts = [line.format(**values) for line in SCRIPT]

    started = time.perf_counter()
    engine = nlu_engine()
    engine.handle(DialogueState(), "hello", customer_id=None)
    engine.handle(DialogueState(), "你好", customer_id=None)
    print(f"warm-up (model + vocabulary + jieba): {1000 * (time.perf_counter() - started):.0f} ms")

    engine_ms, engine_queries = [], []
    service_ms, service_queries = [], []
    conversations = []
    for _ in range(args.rounds):
        state = DialogueState()
        for text in texts:
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                turn = engine.handle(state, text, customer_id=order.customer_id)
                engine_ms.append(1000 * (time.perf_counter() - start))
            engine_queries.append(len(queries))
            state = turn.state
        conversation = Conversation.objects.create(session_key="bench-chat-turn")
        conversations.append(conversation.id)
        for text in texts:
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                conversation_message_handle(conversation_id=conversation.id, text=text)
                service_ms.append(1000 * (time.perf_counter() - start))
            service_queries.append(len(queries))
    Conversation.objects.filter(id__in=conversations).delete()

    vendor = connection.vendor
    print(f"database: {vendor}; {args.rounds} rounds x {len(texts)} messages")
    print(
        f"engine   {_percentiles(engine_ms)}   queries/turn mean "
        f"{statistics.mean(engine_queries):.1f} max {max(engine_queries)}"
    )
    print(
        f"service  {_percentiles(service_ms)}   queries/turn mean "
        f"{statistics.mean(service_queries):.1f} max {max(service_queries)}"
    )


if __name__ == "__main__":
    main()
