"""The model registry's REST API: staff read versions, promote them and roll back."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from shopops.registry.models import ModelVersion
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _staff_with(*codenames: str) -> APIClient:
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return _client(user)


@pytest.fixture
def versions(db):
    """churn v1 ready, v2 active, v3 failed, v4 ready; segmentation v1 active."""
    status = ModelVersion.Status
    return {
        "churn1": ModelVersion.objects.create(kind="churn", version=1, status=status.READY),
        "churn2": ModelVersion.objects.create(
            kind="churn", version=2, status=status.ACTIVE, metrics={"auc": 0.81}
        ),
        "churn3": ModelVersion.objects.create(
            kind="churn", version=3, status=status.FAILED, error="Too few rows."
        ),
        "churn4": ModelVersion.objects.create(kind="churn", version=4, status=status.READY),
        "segments1": ModelVersion.objects.create(
            kind="segmentation", version=1, status=status.ACTIVE
        ),
    }


def _status_of(version: ModelVersion) -> str:
    version.refresh_from_db()
    return version.status


def _rows(response) -> list[tuple[str, int]]:
    return [(row["kind"], row["version"]) for row in response.json()["results"]]


def test_staff_lists_versions_by_kind_newest_first(staff_api, versions):
    response = staff_api.get("/api/registry/models/")

    assert response.status_code == 200
    assert _rows(response) == [
        ("churn", 4),
        ("churn", 3),
        ("churn", 2),
        ("churn", 1),
        ("segmentation", 1),
    ]


def test_versions_filter_by_kind_and_status(staff_api, versions):
    by_kind = staff_api.get("/api/registry/models/", {"kind": "segmentation"})
    by_status = staff_api.get("/api/registry/models/", {"status": "ready"})
    both = staff_api.get("/api/registry/models/", {"kind": "churn", "status": "active"})

    assert _rows(by_kind) == [("segmentation", 1)]
    assert _rows(by_status) == [("churn", 4), ("churn", 1)]
    assert _rows(both) == [("churn", 2)]


def test_versions_filter_with_unknown_status_is_400(staff_api, versions):
    response = staff_api.get("/api/registry/models/", {"status": "retired"})

    assert response.status_code == 400
    assert response.json() == {
        "status": ["Select a valid choice. retired is not one of the available choices."]
    }


def test_staff_reads_one_version(staff_api, versions):
    response = staff_api.get(f"/api/registry/models/{versions['churn3'].id}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["version"], body["status"], body["error"]) == (
        "churn",
        3,
        "failed",
        "Too few rows.",
    )
    assert body["duration_seconds"] is None


def test_unknown_version_is_404(staff_api, versions):
    assert staff_api.get("/api/registry/models/999999/").status_code == 404
    assert staff_api.post("/api/registry/models/999999/promote/").status_code == 404


def test_staff_with_view_permission_reads_versions(versions):
    client = _staff_with("view_modelversion")

    assert len(_rows(client.get("/api/registry/models/"))) == 5


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("customer", 403), ("staff_without_permissions", 403)],
)
def test_others_cannot_read_versions(versions, who, expected):
    clients = {
        "anonymous": lambda: _client(),
        "customer": lambda: _client(CustomerFactory(user=UserFactory()).user),
        "staff_without_permissions": lambda: _staff_with(),
    }
    client = clients[who]()

    assert client.get("/api/registry/models/").status_code == expected
    assert client.get(f"/api/registry/models/{versions['churn2'].id}/").status_code == expected


def test_staff_promotes_a_ready_version(staff_api, versions):
    response = staff_api.post(f"/api/registry/models/{versions['churn4'].id}/promote/")

    assert response.status_code == 200
    assert (response.json()["version"], response.json()["status"]) == (4, "active")
    assert response.json()["promoted_at"] is not None
    assert _status_of(versions["churn2"]) == "ready"
    assert _status_of(versions["segments1"]) == "active"


def test_promoting_a_failed_version_is_400_with_the_reason(staff_api, versions):
    response = staff_api.post(f"/api/registry/models/{versions['churn3'].id}/promote/")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Only a ready version can be promoted; churn v3 (failed) is failed."
    }
    assert _status_of(versions["churn2"]) == "active"


def test_promoting_the_active_version_changes_nothing(staff_api, versions):
    response = staff_api.post(f"/api/registry/models/{versions['churn2'].id}/promote/")

    assert response.status_code == 200
    assert response.json()["status"] == "active"


def test_staff_rolls_back_to_the_previous_ready_version(staff_api, versions):
    response = staff_api.post("/api/registry/rollback/", {"kind": "churn"}, format="json")

    assert response.status_code == 200
    assert (response.json()["version"], response.json()["status"]) == (1, "active")
    assert _status_of(versions["churn2"]) == "ready"


def test_rollback_without_an_earlier_version_is_400(staff_api, versions):
    response = staff_api.post("/api/registry/rollback/", {"kind": "segmentation"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "There is no earlier ready segmentation version to roll back to."
    }


def test_rollback_of_a_kind_with_no_active_version_is_400(staff_api, versions):
    response = staff_api.post("/api/registry/rollback/", {"kind": "intent"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "There is no active intent model to roll back from."}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"kind": ["This field is required."]}),
        ({"kind": ""}, {"kind": ["This field may not be blank."]}),
        ({"kind": "x" * 65}, {"kind": ["Ensure this field has no more than 64 characters."]}),
        ({"kind": ["churn"]}, {"kind": ["Not a valid string."]}),
    ],
)
def test_rollback_with_bad_input_is_400(staff_api, versions, body, errors):
    response = staff_api.post("/api/registry/rollback/", body, format="json")

    assert response.status_code == 400
    assert response.json() == errors


def test_rollback_with_malformed_json_is_400(staff_api):
    response = staff_api.post(
        "/api/registry/rollback/", data="{kind:", content_type="application/json"
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    "codenames", [(), ("view_modelversion",), ("view_modelversion", "add_modelversion")]
)
def test_promote_and_rollback_need_the_change_permission(versions, codenames):
    client = _staff_with(*codenames)

    promote = client.post(f"/api/registry/models/{versions['churn4'].id}/promote/")
    rollback = client.post("/api/registry/rollback/", {"kind": "churn"}, format="json")

    assert promote.status_code == 403
    assert rollback.status_code == 403
    assert _status_of(versions["churn2"]) == "active"


def test_staff_with_change_permission_promotes(versions):
    client = _staff_with("change_modelversion")

    response = client.post(f"/api/registry/models/{versions['churn4'].id}/promote/")

    assert response.status_code == 200
    assert _status_of(versions["churn4"]) == "active"


@pytest.mark.parametrize(("who", "expected"), [("anonymous", 401), ("customer", 403)])
def test_others_cannot_promote_or_roll_back(versions, who, expected):
    client = _client() if who == "anonymous" else _client(CustomerFactory(user=UserFactory()).user)

    promote = client.post(f"/api/registry/models/{versions['churn4'].id}/promote/")
    rollback = client.post("/api/registry/rollback/", {"kind": "churn"}, format="json")

    assert (promote.status_code, rollback.status_code) == (expected, expected)
    assert _status_of(versions["churn2"]) == "active"
