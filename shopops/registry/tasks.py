"""Registry tasks: train one queued model version; mark stale trainings failed."""

from celery import shared_task
from django.db import OperationalError

from shopops.registry import services


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    acks_late=True,
)
def model_training_run_task(version_id: int) -> int:
    # Only transient database errors are retried; bad data marks the version failed and returns.
    version = services.model_training_run(version_id=version_id)
    return version.id


@shared_task
def stale_trainings_fail_task() -> int:
    return services.stale_trainings_fail()


@shared_task
def model_training_enqueue_task(kind: str) -> int | None:
    """Beat's entry point: queue a training of ``kind`` unless one is already running."""
    try:
        version = services.model_training_enqueue(kind=kind)
    except services.TrainingInProgress:
        return None
    return version.id
