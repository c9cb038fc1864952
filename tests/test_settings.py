"""The deployment settings: embedded default, production check, Celery wiring."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x7!kq2#pz9@v1m$w8r&t4y^u6i*o0p(l3j)h5g-f=d+s_a~b" + "Zc3",
    "ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _manage(*args, env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    env.update(env_overrides)
    env["SHOPOPS_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # imports every app; slow only on a heavily loaded machine
        check=False,
    )


def test_production_settings_pass_the_deploy_check_without_warnings(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_overrides=PRODUCTION_ENV,
        tmp_path=tmp_path,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": ""}

    result = _manage("check", env_overrides=env, tmp_path=tmp_path)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off." in result.stderr


def test_the_embedded_default_needs_no_environment(tmp_path):
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; from shopops.celery import app; "
        "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], "
        "s.CHANNEL_LAYERS['default']['BACKEND'], app.conf.task_always_eager)",
        env_overrides={},
        tmp_path=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        "channels.layers.InMemoryChannelLayer",
        "True",
    ]


def test_celery_has_the_default_and_ml_queues_and_routes_training_to_ml():
    from shopops.celery import app

    assert sorted(queue.name for queue in app.conf.task_queues) == ["default", "ml"]
    assert app.conf.task_default_queue == "default"
    router = app.amqp.router
    route = router.route({}, "shopops.registry.tasks.model_training_run_task")
    assert route["queue"].name == "ml"
    assert router.route({}, "shopops.registry.tasks.stale_trainings_fail_task")["queue"].name == (
        "default"
    )
    assert "registry-mark-stale-trainings" in app.conf.beat_schedule
