"""Customer messages answered in worker processes (``CHAT_TURN_PROCESSES``), through the
full ASGI application. A worker is a separate process with its own connection, so it sees
committed rows only: PostgreSQL with ``transactional_db``, and SQLite's in-memory test
database is out of its reach."""

import os

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, connections

from chatbot import turn_workers
from chatbot.models import Message
from tests.chatbot.test_consumer import _chat, _communicator, _hello, _say, _session_cookie

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="worker processes share a PostgreSQL database"
)


@pytest.fixture
def turn_processes(settings, monkeypatch):
    """One worker process; stopped before the test database is dropped (it holds a connection)."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    settings.CHAT_TURN_PROCESSES = 1
    yield
    turn_workers.turn_pool_shutdown()


def _worker_pids() -> set[int]:
    pool = turn_workers._pool
    return set() if pool is None else {process.pid for process in pool._processes.values()}


def test_a_worker_process_answers_from_the_shops_data(mugs, turn_processes):
    # when
    first, second = _chat(_session_cookie(), "how much is the blue ceramic mug?", "is it in stock?")

    # then: answered by another process, with the catalogue's price and the turn's context
    workers = _worker_pids()
    assert len(workers) == 1
    assert os.getpid() not in workers
    assert [frame["type"] for frame in first] == ["typing", "sent", "message"]
    reply = first[-1]["message"]
    assert "12.50" in reply["text"]
    assert first[1]["message"]["intent"] == "price_query"
    assert second[-1]["type"] == "message"
    assert second[1]["message"]["intent"] == "stock_query"
    stored = list(Message.objects.order_by("id").values_list("sender", "text"))
    assert stored == [
        ("customer", "how much is the blue ceramic mug?"),
        ("bot", reply["text"]),
        ("customer", "is it in stock?"),
        ("bot", second[-1]["message"]["text"]),
    ]


def test_a_crashed_worker_costs_one_error_frame_then_a_new_one_answers(mugs, turn_processes):
    cookie = _session_cookie()

    async def scenario():
        communicator = _communicator(cookie=cookie)
        await communicator.connect()
        await _hello(communicator)
        before = await _say(communicator, "hello")
        crashed = set(_worker_pids())
        for process in turn_workers._pool._processes.values():
            process.kill()
            process.join()
        during = await _say(communicator, "show me ceramic mugs")
        after = await _say(communicator, "show me ceramic mugs")
        await communicator.disconnect()
        return before, crashed, during, after

    # when the only worker is killed between two messages
    before, crashed, during, after = async_to_sync(scenario)()

    # then that message gets an error (the connection stays) and the next one is answered
    assert before[-1]["type"] == "message"
    assert during[-1] == {
        "type": "error",
        "code": "server_error",
        "message": "Sorry, something went wrong. Please try again.",
    }
    assert after[-1]["type"] == "message"
    assert after[-1]["message"]["cards"]
    assert _worker_pids().isdisjoint(crashed)
    # nothing half-written: two answered messages, each with its reply
    assert Message.objects.filter(sender="customer").count() == 2
    assert Message.objects.filter(sender="bot").count() == 2


def test_the_workers_start_when_a_customer_connects(mugs, turn_processes, settings):
    # given two workers configured and none running
    settings.CHAT_TURN_PROCESSES = 2
    assert _worker_pids() == set()
    cookie = _session_cookie()

    async def scenario():
        communicator = _communicator(cookie=cookie)
        await communicator.connect()
        started = _worker_pids()
        await _hello(communicator)
        frames = await _say(communicator, "hello")
        await communicator.disconnect()
        return started, frames

    # when a customer connects, before any message
    started, frames = async_to_sync(scenario)()

    # then both workers were started at once, and they answer
    assert len(started) == 2
    assert frames[-1]["type"] == "message"
    assert _worker_pids() == started
