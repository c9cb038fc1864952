import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_every_dependency(client, settings):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["down"] == []
    assert body["checks"]["database"] == "ok"
    if settings.REDIS_URL:
        assert body["checks"]["redis"] == "ok"
    else:
        assert body["checks"]["redis"].startswith("not configured")


@pytest.mark.django_db
def test_healthz_names_redis_when_it_is_down(client):
    # a port nothing listens on stands in for a Redis that went away
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "down"
    assert body["down"] == ["redis"]
    assert body["checks"]["redis"] == "down: ConnectionError"
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_healthz_names_the_broker_when_it_is_down(client, monkeypatch):
    from shopops.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert "celery_broker" in body["down"]
    assert body["checks"]["celery_broker"].startswith("down: ")


@pytest.mark.django_db
def test_healthz_checks_the_real_broker_when_one_is_configured(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set: the embedded default runs tasks inline")
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["celery_broker"] == "ok"


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
