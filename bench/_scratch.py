"""Shared by the benchmarks that need a scratch PostgreSQL database with real data in it."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
ONLINE_RETAIL = ROOT.parent / "shared/data/online-retail/online_retail.csv.gz"


def _admin_connection(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    )


def _drop(url: str, name: str) -> None:
    from psycopg import sql

    with _admin_connection(url) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def scratch_postgres(name: str) -> Iterator[str | None]:
    """Point DATABASE_URL at a new empty database ``name``; drop it afterwards.

    Yields None (and changes nothing) when DATABASE_URL is not PostgreSQL.
    """
    from psycopg import sql

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield None
        return
    _drop(url, name)
    with _admin_connection(url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    try:
        yield os.environ["DATABASE_URL"]
    finally:
        from django.db import connections

        connections.close_all()
        os.environ["DATABASE_URL"] = url
        _drop(url, name)


def django_setup() -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def server_wait(process: subprocess.Popen, port: int, log_path: Path, name: str) -> None:
    """Wait until a bench server accepts connections on ``port``; stop it and exit if it can't."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    server_stop(process)
    raise SystemExit(f"{name} did not start:\n{log_path.read_text()[-3000:]}")


def server_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # The server runs in its own session (start_new_session): its group is ours to end.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; NaN when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
