"""The Procfile's web command, run as production runs it, serves pages and the chat websocket.

The server is a separate process, so it reads the test database over its own connection:
committed rows on PostgreSQL (``transactional_db``); SQLite's in-memory test database is out
of its reach.
"""

import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
#: The first chat message builds the intent engine (it may train on the repository's file).
REPLY_TIMEOUT = 60

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the server process needs a PostgreSQL database"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _web_command() -> list[str]:
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    words = shlex.split(line.removeprefix("web:"))
    # The Procfile names the checkout's .venv; run this interpreter's, wherever it lives.
    words[0] = str(Path(sys.executable).parent / Path(words[0]).name)
    return words


@pytest.fixture
def procfile_server(transactional_db):
    port = _free_port()
    database = connection.settings_dict
    env = {
        **os.environ,
        "PORT": str(port),
        "DATABASE_URL": (
            f"postgres://{quote(database['USER'])}:{quote(database['PASSWORD'] or '')}"
            f"@{database['HOST'] or 'localhost'}:{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "DJANGO_SETTINGS_MODULE": "shopops.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        # One worker process: the chat's production path, at the least start-up cost.
        "CHAT_TURN_PROCESSES": "1",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    command = [word.replace("${PORT:-8000}", str(port)) for word in _web_command()]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read().decode()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the Procfile's web server did not start"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}", server
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _pool_workers(pid: int) -> set[int]:
    """The live process-pool workers whose parent is ``pid`` (Linux /proc): not the
    resource tracker that multiprocessing also starts."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue  # gone meanwhile
            if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in command:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _receive(socket_) -> dict:
    return json.loads(socket_.recv(timeout=REPLY_TIMEOUT))


def test_the_procfile_web_server_serves_http_and_the_chat(procfile_server):
    procfile_server, server = procfile_server
    # when: the health check (pages need collectstatic's manifest, as in production), then a
    # chat with a junk frame before its message
    url = f"http://{procfile_server}/healthz"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a local URL
        status, health = response.status, json.loads(response.read())
    with connect(f"ws://{procfile_server}/ws/chat/", origin=f"http://{procfile_server}") as socket_:
        socket_.send(json.dumps({"type": "hello", "token": None}))
        welcome = _receive(socket_)
        socket_.send("{not json")
        junk = _receive(socket_)
        socket_.send(json.dumps({"type": "message", "text": "hello"}))
        frames = [_receive(socket_) for _ in range(3)]
    workers = _pool_workers(server.pid)
    # and the server is stopped as a process manager stops it
    server.terminate()
    server.wait(timeout=30)
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)

    # then
    assert status == 200
    assert health["status"] == "ok"
    assert health["checks"]["database"] == "ok"
    assert welcome["type"] == "welcome"
    assert welcome["mode"] == "bot"
    assert junk == {"type": "error", "code": "bad_frame", "message": "Frames must be JSON objects."}
    assert [frame["type"] for frame in frames] == ["typing", "sent", "message"]
    assert frames[1]["message"]["text"] == "hello"
    assert frames[2]["message"]["sender"] == "bot"
    assert frames[2]["message"]["text"]
    # its chat turn worker answered, and ended with it
    assert len(workers) == 1
    assert not any(_alive(pid) for pid in workers)
