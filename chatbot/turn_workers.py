"""Chat turns answered in worker processes, so one web process uses more than one core.

A chat turn is mostly Python (the NLU, the dialogue, Django's ORM), and the GIL lets one
process run one of them at a time, while the same process also reads and writes every
websocket frame. With ``CHAT_TURN_PROCESSES`` > 0, the consumer sends each customer message's
turn (``conversation_message_handle``) to a pool of that many processes, each with Django set
up and its own engine and database connection; the web process keeps the frames, the
channel layer and the other (rarer) services. Channel-layer groups stay in the web process,
so this also works with the in-memory layer, which cannot span processes.

The turn's contract does not change: it runs in one transaction that locks the conversation
row, so a worker that dies mid-turn leaves nothing half-written. The pool is rebuilt on the
next message after such a crash.

Workers are started with ``spawn`` (the web process runs an event loop and threads, which
``fork`` would copy mid-flight), so the server's main module must be safe to import again:
uvicorn's, daphne's, gunicorn's and ``manage.py`` are. docs/adr/0009 records the measurements.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

logger = logging.getLogger(__name__)

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _exit_with_parent() -> None:
    """End this worker when the web process ends, however it ends.

    A pool's workers outlive a web process that exits without shutting the pool down (seen
    with uvicorn and daphne stopped by SIGTERM) or is killed: each blocks forever reading a
    task queue whose write end it also holds. An orphan would keep its database connection
    and memory. A turn cut short here is rolled back with its connection.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="chat-worker-parent-watch", daemon=True).start()


def _worker_start(database_settings: dict) -> None:
    """Set Django up in a new worker process, on the web process's database, engine warm."""
    _exit_with_parent()
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")
    django.setup()
    from django.db import connections

    # The web process's settings as they are now, not as settings.py made them: a test
    # database's name, a connection lifetime changed at run time.
    connections["default"].settings_dict.update(database_settings)
    from chatbot.services.nlu import nlu_engine

    try:
        nlu_engine()  # the model and vocabulary load now, not in the first customer's turn
    except Exception:
        logger.exception("chat worker: engine warm-up failed; the first turn will retry")
    finally:
        connections.close_all()


def _turn(conversation_id: int, text: str):
    """One customer message's turn, with the connection hygiene of a request."""
    from django.db import close_old_connections

    from chatbot.services.conversations import conversation_message_handle

    close_old_connections()
    try:
        return conversation_message_handle(conversation_id=conversation_id, text=text)
    finally:
        close_old_connections()


def _pool_get(processes: int) -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            from django.db import connections

            _pool = ProcessPoolExecutor(
                max_workers=processes,
                # Not fork: the web process has an event loop and threads running.
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start,
                initargs=(dict(connections["default"].settings_dict),),
            )
            # The pool spawns a process per task while none is idle: one no-op task each
            # starts them all now, instead of one at a time as turns queue up.
            for _ in range(processes):
                _pool.submit(os.getpid)
        return _pool


def turn_pool_start(*, processes: int) -> None:
    """Start the workers if they are not running (a worker takes seconds to start: called
    when a customer connects, so the pool is ready by their first message)."""
    _pool_get(processes)


def turn_pool_shutdown() -> None:
    """Stop the worker processes (tests; a pool is started again on the next message)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


async def conversation_message_handle_in_worker(*, processes: int, conversation_id: int, text: str):
    """``conversation_message_handle`` in a worker process; the same result or exception."""
    pool = _pool_get(processes)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(pool, functools.partial(_turn, conversation_id, text))
    except BrokenProcessPool:
        logger.exception("chat worker pool broke; it is rebuilt for the next message")
        global _pool
        with _pool_lock:
            if _pool is pool:
                _pool = None
        raise
