"""Benchmark: the chat websocket under 100 concurrent customers on loopback.

    .venv/bin/pip install -r requirements-bench.txt   # aiohttp, the load generator
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/6 \
        .venv/bin/python bench/chat_load.py

Builds a scratch database (PostgreSQL ``--database-name`` when DATABASE_URL is PostgreSQL,
dropped at the end; else SQLite in a temp dir) with the demo shop, then for each channel layer
(``memory``: the embedded default; ``redis``: channels_redis on REDIS_URL) starts one server
process on 127.0.0.1 (``--server``: ``procfile``, the Procfile's web command, uvicorn; or
``daphne``), ``DJANGO_DEBUG=0`` as in production, with its chat turn workers
(``--turn-processes``, default the settings' own: 2 on PostgreSQL, 0 = threads on SQLite),
serving ``bench._chat_echo`` —
the project's websocket stack with the real chat consumer at ``/ws/chat/`` and an echo consumer
at ``/ws/echo/`` (same frames, middleware and channel-layer call, no service) — and drives it
with ``--clients`` aiohttp websocket clients at once.

Each client says hello; once every client is connected they all start (connecting 100
conversations at one instant is a burst of its own, not reply time), and each sends
``--messages`` customer messages (product searches from the
demo catalogue, prices, stock, delivery, an order question, greetings, some in Chinese), waiting
``--think-ms`` (uniform 0.5x to 1.5x) between its reply and its next message, as a person
typing would; a message's time is from the send to the bot's reply frame. Chat and echo run in
interleaved rounds. A last ``saturated`` round sends without thinking, for the most messages
per second the server can answer (its latency is queueing, not a target).

Prints, per layer and target: messages/s, p50/p95/p99 ms, errors, the server's CPU ms per
message (the server and its turn workers, from the start line on: connecting is not counted), and
whether the issue's targets hold (p95 < 50 ms in memory, < 100 ms with Redis, on
2 cores). The load generator shares the machine's cores with the server: the load average is
printed.
"""

import argparse
import asyncio
import os
import random
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from _scratch import (
    ROOT,
    django_setup,
    free_port,
    percentile,
    scratch_postgres,
    server_stop,
    server_wait,
)

PYTHON_BIN = Path(sys.executable).parent
TARGET_P95_MS = {"memory": 50.0, "redis": 100.0}
REPLY_TIMEOUT_SECONDS = 30
# The first message in a fresh server process builds the NLU engine (trains on the repository's
# intents file when no model is active): the warm-up allows for it.
WARMUP_TIMEOUT_SECONDS = 180
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- data -----------------------------------------------------------------------------------------


def _prepare(*, customers: int) -> list[str]:
    """Seed the demo shop; return the product names the clients ask about."""
    from shopops.store.demo import demo_shop_generate
    from shopops.store.models import Product

    started = time.perf_counter()
    demo_shop_generate(seed=7, end_date=date(2026, 1, 31), customers=customers, with_images=False)
    names = list(Product.objects.order_by("id").values_list("name", flat=True))
    print(
        f"demo shop: {customers:,} customers, {len(names):,} products seeded in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return names


def _scripts(names: list[str], *, clients: int, messages: int, seed: int) -> list[list[str]]:
    """One list of customer messages per client: a realistic mix of what shoppers ask."""
    rng = random.Random(seed)
    templates = [
        "show me {name}",
        "how much is it?",
        "is it in stock?",
        "do you have anything cheaper?",
        "hello",
        "how long does delivery take?",
        "where is my order 100042?",
        "can I return an item?",
        "有{name}吗",
        "recommend something for me",
        "thanks",
    ]
    scripts = []
    for _ in range(clients):
        start = rng.randrange(len(templates))
        script = []
        for position in range(messages):
            template = templates[(start + position) % len(templates)]
            script.append(template.format(name=rng.choice(names).lower()))
        scripts.append(script)
    return scripts


# --- server ---------------------------------------------------------------------------------------


def _server_command(server: str, port: int) -> list[str]:
    """``procfile``: the Procfile's web command (what production runs); ``daphne``: the
    Channels server, for comparison. Both on ``port``, serving ``bench._chat_echo``."""
    if server == "daphne":
        return [
            str(PYTHON_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port),
            "bench._chat_echo:application",
        ]  # fmt: skip
    web = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    words = shlex.split(web.removeprefix("web:").replace("${PORT:-8000}", str(port)))
    words[0] = str(PYTHON_BIN / Path(words[0]).name)  # this interpreter's virtualenv
    return [
        "bench._chat_echo:application" if word == "shopops.asgi:application" else word
        for word in words
    ]


def _server_start(
    layer: str, *, server: str, turn_processes: int | None, redis_url: str, log_path: Path
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shopops.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    if turn_processes is not None:
        env["CHAT_TURN_PROCESSES"] = str(turn_processes)
    if layer == "redis":
        env["REDIS_URL"] = redis_url
    command = _server_command(server, port)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server_wait(process, port, log_path, f"{Path(command[0]).name} ({layer})")
    return process, port


def _process_cpu_seconds(pid: int) -> tuple[int, float]:
    """(parent pid, user + system CPU seconds) of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of the server process and its children (the chat's turn workers)."""
    total = _process_cpu_seconds(pid)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != pid:
            try:
                parent, seconds = _process_cpu_seconds(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # gone, or not readable
            if parent == pid:
                total += seconds
    return total


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    first_error: str = ""

    def add(self, other: "Sample") -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.seconds += other.seconds
        self.server_cpu_seconds += other.server_cpu_seconds
        self.first_error = self.first_error or other.first_error


class _StartLine:
    """Holds every client until all have connected (or failed), then lets them talk.

    Opening 100 conversations at the same instant is a burst of connection work (a session, a
    conversation row, the history) that says nothing about how fast the bot replies; without
    this line the first messages queue behind it and the reply-time tail measures the burst.
    """

    def __init__(self, clients: int, server_pid: int) -> None:
        self.waiting = clients
        self.server_pid = server_pid
        self.go = asyncio.Event()
        self.started = time.perf_counter()
        self.cpu_started = _cpu_seconds(server_pid)

    def arrive(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0 and not self.go.is_set():
            self.started = time.perf_counter()
            self.cpu_started = _cpu_seconds(self.server_pid)
            self.go.set()


async def _client(
    session,
    url: str,
    origin: str,
    script: list[str],
    think: float,
    sample: Sample,
    start_line: _StartLine,
):
    import aiohttp

    arrived = False
    try:
        async with session.ws_connect(url, headers={"Origin": origin}) as socket_:
            await socket_.send_json({"type": "hello", "token": None})
            welcome = await socket_.receive_json(timeout=REPLY_TIMEOUT_SECONDS)
            if welcome.get("type") != "welcome":
                raise RuntimeError(f"no welcome: {welcome}")
            arrived = True
            start_line.arrive()
            await asyncio.wait_for(start_line.go.wait(), REPLY_TIMEOUT_SECONDS)
            for text in script:
                # Spread the sends so 100 clients do not type in lockstep.
                await asyncio.sleep(think * random.uniform(0.5, 1.5))  # noqa: S311
                started = time.perf_counter()
                await socket_.send_json({"type": "message", "text": text})
                while True:
                    frame = await socket_.receive_json(timeout=REPLY_TIMEOUT_SECONDS)
                    if frame["type"] in {"message", "error"}:
                        break
                sample.latencies.append(time.perf_counter() - started)
                if frame["type"] == "error":
                    sample.errors += 1
                    sample.first_error = sample.first_error or str(frame)
    except (
        aiohttp.ClientError,
        TypeError,
        TimeoutError,
        RuntimeError,
        KeyError,
        ValueError,
    ) as error:
        sample.errors += 1
        sample.first_error = sample.first_error or repr(error)
    finally:
        if not arrived:
            start_line.arrive()


async def _drive(
    port: int, path: str, scripts: list[list[str]], *, think: float, server_pid: int
) -> Sample:
    import aiohttp

    sample = Sample()
    url, origin = f"ws://127.0.0.1:{port}{path}", f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        start_line = _StartLine(len(scripts), server_pid)
        await asyncio.gather(
            *(
                _client(session, url, origin, script, think, sample, start_line)
                for script in scripts
            )
        )
        # Time and CPU count from the start line: connecting is not a message's cost.
        sample.seconds = time.perf_counter() - start_line.started
        sample.server_cpu_seconds = _cpu_seconds(server_pid) - start_line.cpu_started
    return sample


def _bench_layer(layer: str, scripts: list[list[str]], args, scratch: Path) -> None:
    process, port = _server_start(
        layer,
        server=args.server,
        turn_processes=args.turn_processes,
        redis_url=args.redis_url,
        log_path=scratch / f"server-{layer}.log",
    )
    think = args.think_ms / 1000
    try:
        warm = asyncio.run(
            asyncio.wait_for(
                _drive(port, "/ws/chat/", scripts[:4], think=0, server_pid=process.pid),
                WARMUP_TIMEOUT_SECONDS,
            )
        )
        if warm.errors:
            log = (scratch / f"server-{layer}.log").read_text()[-3000:]
            raise SystemExit(f"{layer}: warm-up errors, first: {warm.first_error}\n{log}")
        asyncio.run(_drive(port, "/ws/echo/", scripts[:4], think=0, server_pid=process.pid))
        paced = {"echo": Sample(), "chat": Sample()}
        # Interleaved rounds, so a burst of load from elsewhere on the machine hits both alike.
        for _round in range(args.rounds):
            for target, path in (("echo", "/ws/echo/"), ("chat", "/ws/chat/")):
                paced[target].add(
                    asyncio.run(_drive(port, path, scripts, think=think, server_pid=process.pid))
                )
        saturated = {
            target: asyncio.run(_drive(port, path, scripts, think=0, server_pid=process.pid))
            for target, path in (("echo", "/ws/echo/"), ("chat", "/ws/chat/"))
        }
    finally:
        server_stop(process)
    server_log = (scratch / f"server-{layer}.log").read_text()
    load = os.getloadavg()
    print(
        f"\n{layer} channel layer: {len(scripts)} concurrent clients x {len(scripts[0])} "
        f"messages x {args.rounds} rounds, think {args.think_ms:.0f} ms (0.5x-1.5x); "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"  {'target':<6} {'mode':<9} {'msg/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'srv cpu ms/msg':>14} {'srv cores':>9}  target"
    )
    target_ms = TARGET_P95_MS[layer]
    for mode, samples in (("paced", paced), ("saturated", saturated)):
        for target, sample in samples.items():
            count = len(sample.latencies)
            p95 = percentile(sample.latencies, 0.95) * 1000
            verdict = ""
            if target == "chat" and mode == "paced":
                verdict = f"p95<{target_ms:.0f}ms {'met' if p95 < target_ms else 'MISSED'}"
            cpu_ms = sample.server_cpu_seconds * 1000 / count if count else float("nan")
            # The cores the server (and its turn workers) kept busy while it was driven.
            cores = sample.server_cpu_seconds / sample.seconds
            print(
                f"  {target:<6} {mode:<9} {count / sample.seconds:7.0f} "
                f"{percentile(sample.latencies, 0.50) * 1000:8.1f} {p95:8.1f} "
                f"{percentile(sample.latencies, 0.99) * 1000:8.1f} {sample.errors:6d} "
                f"{cpu_ms:14.2f} {cores:9.2f}  {verdict}"
            )
            if sample.errors:
                print(f"    first error: {sample.first_error}")
    errors = [line for line in server_log.splitlines() if "Error" in line or "Exception" in line]
    if errors:
        print(f"  server log: {len(errors)} error lines, last: {errors[-1][:300]}")


def _bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        os.environ["SHOPOPS_VAR_DIR"] = str(scratch / "var")
        os.environ["ARTIFACT_ROOT"] = str(scratch / "artifacts")
        # The seeding process needs no Redis; the servers get it per layer.
        os.environ.pop("REDIS_URL", None)
        with scratch_postgres(args.database_name) as postgres_url:
            if postgres_url is None:
                os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
            django_setup()
            from django.conf import settings

            database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
            processes = args.turn_processes
            if processes is None:
                processes = settings.CHAT_TURN_PROCESSES
            print(
                f"database {database}, {os.cpu_count()} CPUs, {args.server} server (one "
                f"process) with "
                f"{processes} chat turn processes"
                + (" (turns in threads)" if not processes else "")
            )
            names = _prepare(customers=args.customers)
            scripts = _scripts(names, clients=args.clients, messages=args.messages, seed=11)
            from django.db import connections

            connections.close_all()
            for layer in args.layers.split(","):
                _bench_layer(layer.strip(), scripts, args, scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5, help="per client and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--think-ms", type=float, default=1000.0)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--layers", default="memory,redis")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--database-name", default="shopops_bench_chat")
    parser.add_argument(
        "--server",
        choices=("procfile", "daphne"),
        default="procfile",
        help="procfile: the Procfile's web command (uvicorn); daphne: for comparison",
    )
    parser.add_argument(
        "--turn-processes", type=int, default=None, help="CHAT_TURN_PROCESSES for the server"
    )
    args = parser.parse_args()
    if not 1 <= args.clients <= 1000 or not 1 <= args.messages <= 1000:
        raise SystemExit("--clients must be 1..1000 and --messages 1..1000")
    if any(layer.strip() not in TARGET_P95_MS for layer in args.layers.split(",")):
        raise SystemExit(f"--layers takes {', '.join(TARGET_P95_MS)}")
    _bench(args)


if __name__ == "__main__":
    main()
