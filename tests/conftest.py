"""Fixtures shared by the whole suite."""

import shutil

import pytest
from rest_framework.test import APIClient

from tests.factories import CustomerFactory, StaffUserFactory, UserFactory


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Tasks run inline in tests, Redis or not; the broker wiring has its own tests."""
    from shopops.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _chat_turns_in_threads(settings):
    """Worker processes cannot see a test's uncommitted rows; tests/chatbot/test_turn_workers.py
    tests them on committed data."""
    settings.CHAT_TURN_PROCESSES = 0


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's deliberate slowness only slows the suite; tests need no real password hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_files(settings, tmp_path):
    """Every test writes artifacts, media and reports under its own temporary folder."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_REPORT_DIR = tmp_path / "import-reports"
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_user(db):
    return StaffUserFactory(username="merchant")


@pytest.fixture
def customer_user(db):
    user = UserFactory(username="alice")
    customer = CustomerFactory(user=user, name="Alice", external_id="ALICE")
    return user, customer


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def staff_api(api_client, staff_user):
    api_client.force_authenticate(staff_user)
    return api_client


@pytest.fixture
def no_registered_trainers(monkeypatch):
    """Hide the apps' registered model kinds, for tests that register only their own."""
    from shopops.registry import services

    monkeypatch.setattr(services, "_TRAINERS", {})
