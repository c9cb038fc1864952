"""Thin Celery tasks of the vision app: take ids, call one service (routed to ``ml``: torch)."""

from celery import shared_task
from django.db import OperationalError

from vision import services


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def product_image_analyse_task(image_id: int) -> int | None:
    suggestion = services.product_image_analyse(image_id=image_id)
    return suggestion.id if suggestion is not None else None


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3, acks_late=True)
def catalog_reindex_task(version_id: int) -> int:
    return services.catalog_reindex(version_id=version_id)
