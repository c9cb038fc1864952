"""``GET /healthz``: database, Redis and Celery broker status as JSON (200 up, 503 down)."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

CHECK_TIMEOUT_SECONDS = 2.0


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means "down"; the reason goes in the body
        return f"down: {type(error).__name__}"
    return "ok"


def _redis_status() -> str:
    if not settings.REDIS_URL:
        return "not configured (embedded default: local-memory cache)"
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
            socket_timeout=CHECK_TIMEOUT_SECONDS,
        )
        client.ping()
    except Exception as error:
        return f"down: {type(error).__name__}"
    return "ok"


def _broker_status() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (tasks run inline)"
    from shopops.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        return f"down: {type(error).__name__}"
    return "ok"


@never_cache
@require_GET
def healthz(request):
    checks = {
        "database": _database_status(),
        "redis": _redis_status(),
        "celery_broker": _broker_status(),
    }
    down = [name for name, status in checks.items() if status.startswith("down")]
    body = {"status": "ok" if not down else "down", "checks": checks, "down": down}
    return JsonResponse(body, status=503 if down else 200)
