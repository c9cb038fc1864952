import threading

import numpy as np
import pytest
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction

from shopops.registry import services
from shopops.registry.models import ModelVersion


def _train_writes_array(*, params, artifact_dir, progress):
    progress(0.5, "half way")
    np.savez(artifact_dir / "weights.npz", w=np.arange(4) * params.get("scale", 1))
    return services.TrainingResult(metrics={"score": params.get("score", 0.5)})


@pytest.fixture
def toy_trainer():
    trainer = services.Trainer(
        kind="toy",
        train=_train_writes_array,
        gate=services.metric_gate("score", tolerance=0.01),
        default_params={"scale": 2},
    )
    services.trainer_register(trainer)
    yield trainer
    services._TRAINERS.pop("toy", None)


@pytest.mark.django_db
def test_first_training_is_recorded_and_promoted(toy_trainer):
    # when
    version = services.model_training_run_now(kind="toy", params={"score": 0.7})

    # then
    assert version.version == 1
    assert version.status == ModelVersion.Status.ACTIVE
    assert version.metrics == {"score": 0.7}
    assert version.params == {"scale": 2, "score": 0.7}
    assert version.progress == 1.0
    assert version.gate_passed is True
    assert len(version.artifact_sha256) == 64
    directory = services.model_version_artifact_verify(version=version)
    assert np.load(directory / "weights.npz", allow_pickle=False)["w"].tolist() == [0, 2, 4, 6]


@pytest.mark.django_db
def test_a_worse_model_is_kept_ready_not_promoted(toy_trainer):
    first = services.model_training_run_now(kind="toy", params={"score": 0.7})

    second = services.model_training_run_now(kind="toy", params={"score": 0.6})

    first.refresh_from_db()
    assert second.version == 2
    assert second.status == ModelVersion.Status.READY
    assert second.gate_passed is False
    assert second.gate_reason == "score 0.6000 worse than active 0.7000 (tolerance 0.01)"
    assert first.status == ModelVersion.Status.ACTIVE


@pytest.mark.django_db
def test_a_model_within_tolerance_is_promoted(toy_trainer):
    first = services.model_training_run_now(kind="toy", params={"score": 0.7})

    second = services.model_training_run_now(kind="toy", params={"score": 0.695})

    first.refresh_from_db()
    assert second.status == ModelVersion.Status.ACTIVE
    assert first.status == ModelVersion.Status.READY


@pytest.mark.django_db
def test_rollback_promotes_the_previous_ready_version(toy_trainer):
    services.model_training_run_now(kind="toy", params={"score": 0.7})
    services.model_training_run_now(kind="toy", params={"score": 0.8})

    restored = services.model_version_rollback(kind="toy")

    assert restored.version == 1
    assert services.active_model_version(kind="toy").version == 1
    assert ModelVersion.objects.get(kind="toy", version=2).status == ModelVersion.Status.READY


@pytest.mark.django_db
def test_rollback_without_an_older_version_is_refused(toy_trainer):
    services.model_training_run_now(kind="toy", params={"score": 0.7})

    with pytest.raises(ValueError, match="no earlier ready toy version"):
        services.model_version_rollback(kind="toy")


@pytest.mark.django_db
def test_the_database_allows_one_active_version_per_kind():
    ModelVersion.objects.create(kind="toy", version=1, status="active")

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(kind="toy", version=2, status="active")


@pytest.mark.django_db
def test_a_second_training_of_a_kind_waits_for_the_lock(toy_trainer):
    running = services.model_version_start(kind="toy")

    with pytest.raises(services.TrainingInProgress):
        services.model_version_start(kind="toy")

    # another kind is not blocked
    other = services.model_version_start(kind="other")
    assert (running.version, other.version) == (1, 1)


@pytest.mark.django_db
def test_a_stale_training_releases_the_lock(toy_trainer):
    from datetime import timedelta

    from django.utils import timezone

    stale = services.model_version_start(kind="toy")
    ModelVersion.objects.filter(id=stale.id).update(
        heartbeat_at=timezone.now() - services.STALE_AFTER - timedelta(minutes=1)
    )

    fresh = services.model_version_start(kind="toy")

    stale.refresh_from_db()
    assert stale.status == ModelVersion.Status.FAILED
    assert "stopped reporting progress" in stale.error
    assert fresh.version == 2


@pytest.mark.django_db
def test_running_a_finished_version_again_does_nothing(toy_trainer):
    version = services.model_training_run_now(kind="toy", params={"score": 0.7})
    sha = version.artifact_sha256

    again = services.model_training_run(version_id=version.id)

    assert again.status == ModelVersion.Status.ACTIVE
    assert again.artifact_sha256 == sha
    assert ModelVersion.objects.filter(kind="toy").count() == 1


def _train_bad_data(*, params, artifact_dir, progress):
    raise services.TrainingDataError("Only 3 customers have orders; at least 10 are needed.")


def _train_crashes(*, params, artifact_dir, progress):
    (artifact_dir / "partial.bin").write_bytes(b"half")
    raise RuntimeError("boom")


@pytest.mark.django_db
def test_bad_data_fails_the_version_with_its_reason_and_no_artifact():
    services.trainer_register(
        services.Trainer(kind="bad", train=_train_bad_data, gate=services.metric_gate("x"))
    )
    try:
        version = services.model_training_run_now(kind="bad")
    finally:
        services._TRAINERS.pop("bad")

    assert version.status == ModelVersion.Status.FAILED
    assert version.error == "Only 3 customers have orders; at least 10 are needed."
    assert not services.artifact_directory(kind="bad", version=1).exists()
    # the lock is released: a new training can start
    assert services.model_version_start(kind="bad").version == 2


@pytest.mark.django_db
def test_an_unexpected_error_fails_the_version_and_propagates():
    services.trainer_register(
        services.Trainer(kind="crash", train=_train_crashes, gate=services.metric_gate("x"))
    )
    try:
        with pytest.raises(RuntimeError, match="boom"):
            services.model_training_run_now(kind="crash")
    finally:
        services._TRAINERS.pop("crash")

    version = ModelVersion.objects.get(kind="crash")
    assert version.status == ModelVersion.Status.FAILED
    assert version.error == "RuntimeError: boom"
    assert not services.artifact_directory(kind="crash", version=1).exists()


@pytest.mark.django_db
def test_a_tampered_artifact_is_detected(toy_trainer):
    version = services.model_training_run_now(kind="toy", params={"score": 0.7})
    (services.artifact_directory(kind="toy", version=1) / "weights.npz").write_bytes(b"tampered")

    with pytest.raises(services.ArtifactIntegrityError):
        services.model_version_artifact_verify(version=version)


@pytest.mark.django_db
def test_enqueue_runs_the_training_task_after_commit(
    toy_trainer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.model_training_enqueue(kind="toy", params={"score": 0.9})

    queued.refresh_from_db()
    assert queued.status == ModelVersion.Status.ACTIVE
    assert queued.metrics == {"score": 0.9}


@pytest.mark.django_db
def test_unknown_kind_is_a_clear_error():
    with pytest.raises(services.UnknownModelKind, match="No trainer is registered"):
        services.model_training_enqueue(kind="nope")


@pytest.mark.django_db
def test_promotion_hook_runs_after_commit(django_capture_on_commit_callbacks):
    promoted = []
    services.trainer_register(
        services.Trainer(
            kind="hooked",
            train=_train_writes_array,
            gate=services.metric_gate("score"),
            on_promote=lambda version: promoted.append(version.version),
        )
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.model_training_run_now(kind="hooked")
    finally:
        services._TRAINERS.pop("hooked")

    assert promoted == [1]


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_take_the_lock_once():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises writers)")
    outcomes = []

    def start():
        try:
            services.model_version_start(kind="race")
            outcomes.append("started")
        except services.TrainingInProgress:
            outcomes.append("locked")
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["locked", "locked", "locked", "started"]
    assert ModelVersion.objects.filter(kind="race").count() == 1


@pytest.mark.django_db
def test_a_trainer_finds_the_version_it_trains_into(toy_trainer):
    version = services.model_version_start(kind="toy")
    directory = services.artifact_directory(kind="toy", version=version.version)

    assert services.model_version_training_into(kind="toy", artifact_dir=directory) == version
    with pytest.raises(RuntimeError, match="No toy version is training into"):
        services.model_version_training_into(kind="toy", artifact_dir=directory.parent / "9")


# --- the cached active version id ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_active_version_id_is_cached_per_kind(django_assert_num_queries):
    toy = ModelVersion.objects.create(kind="toy", version=1, status="active")
    ModelVersion.objects.create(kind="other", version=1, status="ready")

    assert services.active_model_version_ids(kinds=["toy", "other"]) == {
        "toy": toy.id,
        "other": None,
    }
    with django_assert_num_queries(0):
        assert services.active_model_version_id(kind="toy") == toy.id
        assert services.active_model_version_id(kind="other") is None


@pytest.mark.django_db
def test_promotion_and_rollback_refresh_the_cached_id_on_commit(
    django_capture_on_commit_callbacks,
):
    first = ModelVersion.objects.create(kind="toy", version=1, status="ready")
    second = ModelVersion.objects.create(kind="toy", version=2, status="ready")
    assert services.active_model_version_id(kind="toy") is None  # cached: none yet

    with django_capture_on_commit_callbacks(execute=True):
        services.model_version_promote(version_id=first.id)
    assert services.active_model_version_id(kind="toy") == first.id

    with django_capture_on_commit_callbacks(execute=False) as pending:
        services.model_version_promote(version_id=second.id)
    # not committed yet: readers still get the version that is active for them
    assert services.active_model_version_id(kind="toy") == first.id
    for callback in pending:
        callback()
    assert services.active_model_version_id(kind="toy") == second.id

    with django_capture_on_commit_callbacks(execute=True):
        services.model_version_rollback(kind="toy")
    assert services.active_model_version_id(kind="toy") == first.id
    # the row reader other apps call is unchanged
    assert services.active_model_version(kind="toy") == first


@pytest.mark.django_db
def test_a_stale_reader_cannot_overwrite_a_refresh():
    first = ModelVersion.objects.create(kind="toy", version=1, status="active")
    # a promotion to v2 committed and refreshed the cache ...
    ModelVersion.objects.filter(id=first.id).update(status="ready")
    second = ModelVersion.objects.create(kind="toy", version=2, status="active")
    services.active_model_version_id_refresh(kind="toy")
    # ... while a reader that had read v1 before the commit stores what it read: add() loses
    cache.add("registry:active-version-id:toy", first.id)

    assert services.active_model_version_id(kind="toy") == second.id
