"""The trained-model registry: versions, artifacts, the per-kind lock, promotion and rollback.

An app makes a kind trainable by registering a :class:`Trainer` in its ``AppConfig.ready()``::

    trainer_register(Trainer(kind="segmentation", train=segmentation_train,
                             gate=metric_gate("silhouette", tolerance=0.02)))

and then ``model_training_enqueue(kind="segmentation")`` (from a view, a command or beat) creates
the version row, which holds the kind's lock, and hands its id to the ``ml`` queue, where
``model_training_run`` trains, writes the artifact once, records metrics and promotes the
version when its gate passes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from shopops.registry.models import ModelVersion

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(hours=2)
ARTIFACT_MANIFEST = "manifest.json"


class TrainingInProgress(Exception):
    """A training of this kind is already running: the kind's lock is held."""


class UnknownModelKind(Exception):
    """No trainer is registered for this kind."""


class TrainingDataError(Exception):
    """The data cannot train this model (too few rows, one class ...): fail fast, no retry."""


class ArtifactIntegrityError(Exception):
    """An artifact on disk does not match the sha256 recorded for its version."""


ProgressCallback = Callable[[float, str], None]


@dataclass
class TrainingResult:
    """What a trainer returns; it has already written its files into the artifact directory."""

    metrics: dict[str, Any]
    data_window_start: datetime | None = None
    data_window_end: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str


GateFunction = Callable[[dict[str, Any], dict[str, Any]], GateDecision]


@dataclass(frozen=True)
class Trainer:
    """How one kind trains.

    ``train(params=..., artifact_dir=..., progress=...)`` returns a :class:`TrainingResult`;
    ``gate(new_metrics, active_metrics)`` decides promotion; ``on_promote(version)`` runs after
    the promotion commits (cache invalidation, precomputation).
    """

    kind: str
    train: Callable[..., TrainingResult]
    gate: GateFunction
    default_params: dict[str, Any] = field(default_factory=dict)
    on_promote: Callable[[ModelVersion], None] | None = None
    title: str = ""


_TRAINERS: dict[str, Trainer] = {}


def trainer_register(trainer: Trainer) -> None:
    _TRAINERS[trainer.kind] = trainer


def trainer_get(*, kind: str) -> Trainer:
    try:
        return _TRAINERS[kind]
    except KeyError:
        raise UnknownModelKind(f"No trainer is registered for model kind {kind!r}.") from None


def trainer_kinds() -> list[str]:
    return sorted(_TRAINERS)


def metric_gate(
    metric: str, *, higher_is_better: bool = True, tolerance: float = 0.0
) -> GateFunction:
    """A gate: promote when ``metric`` is not worse than the active model's beyond tolerance."""

    def gate(new: dict[str, Any], active: dict[str, Any]) -> GateDecision:
        if metric not in new or new[metric] is None:
            return GateDecision(False, f"new model has no {metric}")
        if not active or active.get(metric) is None:
            return GateDecision(True, "no active model to compare with")
        new_value, old_value = float(new[metric]), float(active[metric])
        delta = new_value - old_value if higher_is_better else old_value - new_value
        passed = delta >= -tolerance
        verdict = "not worse than" if passed else "worse than"
        return GateDecision(
            passed,
            f"{metric} {new_value:.4f} {verdict} active {old_value:.4f} (tolerance {tolerance})",
        )

    return gate


# --- versions and the per-kind lock -------------------------------------------------------------


def artifact_directory(*, kind: str, version: int) -> Path:
    return Path(settings.ARTIFACT_ROOT) / kind / str(version)


def _code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607 - git from PATH is intended
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in (
        "django",
        "numpy",
        "scipy",
        "scikit-learn",
        "torch",
        "implicit",
        "pillow",
        "kneed",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def stale_trainings_fail(*, now: datetime | None = None) -> int:
    """Mark trainings whose worker stopped heartbeating as failed, releasing their kind's lock."""
    now = now or timezone.now()
    return ModelVersion.objects.filter(
        status=ModelVersion.Status.TRAINING, heartbeat_at__lt=now - STALE_AFTER
    ).update(
        status=ModelVersion.Status.FAILED,
        error="The training stopped reporting progress (worker lost); marked failed.",
        finished_at=now,
    )


def model_version_start(*, kind: str, params: dict[str, Any] | None = None) -> ModelVersion:
    """Create the next version of ``kind`` in status training; this takes the kind's lock.

    Raises :class:`TrainingInProgress` when another training of the kind holds it.
    """
    stale_trainings_fail()
    now = timezone.now()
    for _attempt in range(3):
        try:
            with transaction.atomic():
                latest = ModelVersion.objects.filter(kind=kind).aggregate(v=Max("version"))["v"]
                return ModelVersion.objects.create(
                    kind=kind,
                    version=(latest or 0) + 1,
                    status=ModelVersion.Status.TRAINING,
                    params=params or {},
                    progress_message="queued",
                    code_version=_code_version(),
                    library_versions=_library_versions(),
                    heartbeat_at=now,
                )
        except IntegrityError as error:
            if ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.TRAINING).exists():
                raise TrainingInProgress(
                    f"A {kind} training is already running; wait for it to finish."
                ) from error
            # Lost a race for the version number with a training that already finished: retry.
            continue
    raise TrainingInProgress(f"Could not allocate a new {kind} version; try again.")


def model_version_training_into(*, kind: str, artifact_dir: Path) -> ModelVersion:
    """The version a trainer is writing for: the kind's one version in training (its lock),
    whose artifact directory the registry handed to ``train``."""
    version = ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.TRAINING).first()
    if version is None or (
        Path(artifact_dir).resolve()
        != artifact_directory(kind=kind, version=version.version).resolve()
    ):
        raise RuntimeError(
            f"No {kind} version is training into {artifact_dir}; train through the registry."
        )
    return version


def model_version_progress(*, version_id: int, progress: float, message: str = "") -> None:
    ModelVersion.objects.filter(id=version_id, status=ModelVersion.Status.TRAINING).update(
        progress=min(max(float(progress), 0.0), 1.0),
        progress_message=message[:255],
        heartbeat_at=timezone.now(),
    )


def model_version_fail(*, version_id: int, error: str) -> None:
    ModelVersion.objects.filter(id=version_id, status=ModelVersion.Status.TRAINING).update(
        status=ModelVersion.Status.FAILED, error=error[:5000], finished_at=timezone.now()
    )


def _directory_sha256(directory: Path) -> tuple[str, dict[str, str]]:
    """sha256 of every file (sorted by relative path) and one digest over all of them."""
    files: dict[str, str] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        if name == ARTIFACT_MANIFEST:
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        files[name] = digest.hexdigest()
    overall = hashlib.sha256()
    for name, digest in files.items():
        overall.update(f"{name}\0{digest}\n".encode())
    return overall.hexdigest(), files


def model_version_finish(*, version_id: int, result: TrainingResult) -> ModelVersion:
    """Record a successful training: metrics, window, artifact digest; status becomes ready."""
    version = ModelVersion.objects.get(id=version_id)
    directory = artifact_directory(kind=version.kind, version=version.version)
    digest = ""
    if directory.exists():
        digest, files = _directory_sha256(directory)
        (directory / ARTIFACT_MANIFEST).write_text(json.dumps({"sha256": digest, "files": files}))
    params = {**version.params, **result.params}
    ModelVersion.objects.filter(id=version_id, status=ModelVersion.Status.TRAINING).update(
        status=ModelVersion.Status.READY,
        metrics=_json_safe(result.metrics),
        params=_json_safe(params),
        data_window_start=result.data_window_start,
        data_window_end=result.data_window_end,
        artifact_path=str(directory) if directory.exists() else "",
        artifact_sha256=digest,
        progress=1.0,
        progress_message="done",
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    version.refresh_from_db()
    return version


def _json_safe(value: Any) -> Any:
    """Metrics often hold numpy scalars; store plain JSON types."""
    return json.loads(
        json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    )


def model_version_artifact_verify(*, version: ModelVersion) -> Path:
    """Return the artifact directory after checking its files against the recorded sha256."""
    directory = Path(version.artifact_path)
    digest, _files = _directory_sha256(directory)
    if digest != version.artifact_sha256:
        raise ArtifactIntegrityError(
            f"Artifact of {version.kind} v{version.version} does not match its recorded sha256."
        )
    return directory


# --- promotion and rollback -----------------------------------------------------------------------


def model_version_promote(*, version_id: int) -> ModelVersion:
    """Make a ready (or previously active) version the active one of its kind, atomically.

    Locks every row of the kind in id order (so two promotions serialise), demotes the current
    active version to ready, then activates this one; the partial unique constraint guarantees
    there is never a moment with two active versions.
    """
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(id=version_id)
        list(
            ModelVersion.objects.select_for_update()
            .filter(kind=version.kind)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if version.status == ModelVersion.Status.ACTIVE:
            return version
        if version.status != ModelVersion.Status.READY:
            raise ValueError(
                f"Only a ready version can be promoted; {version} is {version.status}."
            )
        ModelVersion.objects.filter(kind=version.kind, status=ModelVersion.Status.ACTIVE).update(
            status=ModelVersion.Status.READY
        )
        version.status = ModelVersion.Status.ACTIVE
        version.promoted_at = timezone.now()
        version.save(update_fields=["status", "promoted_at"])
        kind = version.kind
        # Registered first, so an on_promote hook already reads the new id from the cache.
        transaction.on_commit(lambda: active_model_version_id_refresh(kind=kind))
        trainer = _TRAINERS.get(version.kind)
        if trainer and trainer.on_promote:
            promoted = version
            transaction.on_commit(lambda: trainer.on_promote(promoted))
    return version


def model_version_rollback(*, kind: str) -> ModelVersion:
    """Promote the newest ready version older than the active one."""
    active = active_model_version(kind=kind)
    if active is None:
        raise ValueError(f"There is no active {kind} model to roll back from.")
    previous = (
        ModelVersion.objects.filter(
            kind=kind, status=ModelVersion.Status.READY, version__lt=active.version
        )
        .order_by("-version")
        .first()
    )
    if previous is None:
        raise ValueError(f"There is no earlier ready {kind} version to roll back to.")
    return model_version_promote(version_id=previous.id)


def active_model_version(*, kind: str) -> ModelVersion | None:
    """The active version's row, read from the database (authoritative; gates and pages)."""
    return ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.ACTIVE).first()


# --- the active version id, cached for serving hot paths -----------------------------------------

#: Backstop only: promotion refreshes the cached id on commit. A bound on how long a missed
#: refresh (a crash between commit and callback, an active row deleted in the admin) can last.
ACTIVE_VERSION_CACHE_SECONDS = 300
_NO_ACTIVE_VERSION = 0  # cached for "no active version", which None cannot say


def active_model_version_cache_key(*, kind: str) -> str:
    """Where the kind's active id is cached, for a hot path that reads it in one ``get_many``
    with keys of its own. The entry holds the id, 0 for "none", and may be missing: then
    call :func:`active_model_version_id`."""
    return f"registry:active-version-id:{kind}"


def _active_version_id_query(kind: str) -> int:
    found = (
        ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.ACTIVE)
        .values_list("id", flat=True)
        .first()
    )
    return found or _NO_ACTIVE_VERSION


def active_model_version_ids(*, kinds: list[str]) -> dict[str, int | None]:
    """Each kind's active version id (None when it has none), from one cache read.

    For hot paths (serving): a warm call runs no query. A kind missing from the cache is
    read from the database and stored with ``cache.add``, so a reader that read just before
    a promotion committed cannot overwrite the id the promotion stored.
    """
    keys = {kind: active_model_version_cache_key(kind=kind) for kind in kinds}
    cached = cache.get_many(list(keys.values()))
    ids: dict[str, int | None] = {}
    for kind, key in keys.items():
        value = cached.get(key)
        if value is None:
            value = _active_version_id_query(kind)
            cache.add(key, value, ACTIVE_VERSION_CACHE_SECONDS)
        ids[kind] = value or None
    return ids


def active_model_version_id(*, kind: str) -> int | None:
    """The active version's id of ``kind`` (None when none), cached; see
    :func:`active_model_version_ids`."""
    return active_model_version_ids(kinds=[kind])[kind]


def active_model_version_id_refresh(*, kind: str) -> int | None:
    """Store the kind's active id as the database has it now (promotion calls this on commit).

    Reads the database rather than trusting the caller, so when two promotions of a kind
    commit close together, the refresh that runs last stores the id that is active last.
    """
    value = _active_version_id_query(kind)
    cache.set(active_model_version_cache_key(kind=kind), value, ACTIVE_VERSION_CACHE_SECONDS)
    return value or None


# --- running a training -------------------------------------------------------------------------


def model_training_enqueue(*, kind: str, params: dict[str, Any] | None = None) -> ModelVersion:
    """Take the kind's lock by creating the version, then queue its training on commit."""
    from shopops.registry.tasks import model_training_run_task  # tasks -> services; late import

    trainer = trainer_get(kind=kind)
    version = model_version_start(kind=kind, params={**trainer.default_params, **(params or {})})
    transaction.on_commit(lambda: model_training_run_task.delay(version.id))
    return version


class _ThrottledProgress:
    """Write progress to the database at most every ``interval`` seconds (and always at 100%)."""

    def __init__(self, version_id: int, interval: float = 0.5) -> None:
        self.version_id = version_id
        self.interval = interval
        self._last = 0.0

    def __call__(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < self.interval:
            return
        self._last = now
        model_version_progress(version_id=self.version_id, progress=fraction, message=message)


def model_training_run(*, version_id: int) -> ModelVersion:
    """Train a queued version, record it, and promote it when its gate passes.

    Idempotent: a version that already finished (ready/active/failed) is returned untouched, and
    the run is claimed with a conditional update so two workers never train the same version.
    Bad data (:class:`TrainingDataError`) marks the version failed with its message; any other
    error also marks it failed and is re-raised so the task's retry policy can see it.
    """
    claimed = ModelVersion.objects.filter(
        id=version_id, status=ModelVersion.Status.TRAINING, started_at__isnull=True
    ).update(started_at=timezone.now(), heartbeat_at=timezone.now(), progress_message="starting")
    version = ModelVersion.objects.get(id=version_id)
    if not claimed:
        return version
    trainer = trainer_get(kind=version.kind)
    directory = artifact_directory(kind=version.kind, version=version.version)
    if directory.exists():
        # Left by a crashed attempt of this version: artifacts are written once, start clean.
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    progress = _ThrottledProgress(version.id)
    try:
        result = trainer.train(params=version.params, artifact_dir=directory, progress=progress)
    except TrainingDataError as error:
        model_version_fail(version_id=version.id, error=str(error))
        shutil.rmtree(directory, ignore_errors=True)
        version.refresh_from_db()
        return version
    except OperationalError:
        # Transient (database went away): release the claim so the task's retry can train again.
        ModelVersion.objects.filter(id=version.id, status=ModelVersion.Status.TRAINING).update(
            started_at=None, progress_message="retrying after a database error"
        )
        shutil.rmtree(directory, ignore_errors=True)
        raise
    except Exception as error:
        logger.exception("training %s v%s failed", version.kind, version.version)
        model_version_fail(version_id=version.id, error=f"{type(error).__name__}: {error}")
        shutil.rmtree(directory, ignore_errors=True)
        raise
    version = model_version_finish(version_id=version.id, result=result)
    active = active_model_version(kind=version.kind)
    decision = trainer.gate(version.metrics, active.metrics if active else {})
    ModelVersion.objects.filter(id=version.id).update(
        gate_passed=decision.passed, gate_reason=decision.reason[:255]
    )
    if decision.passed:
        version = model_version_promote(version_id=version.id)
    version.refresh_from_db()
    return version


def model_training_run_now(*, kind: str, params: dict[str, Any] | None = None) -> ModelVersion:
    """Train synchronously in this process (management commands, tests)."""
    trainer = trainer_get(kind=kind)
    version = model_version_start(kind=kind, params={**trainer.default_params, **(params or {})})
    return model_training_run(version_id=version.id)
