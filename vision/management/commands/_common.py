"""Helpers shared by the vision management commands."""

from django.core.management.base import CommandError

from shopops.registry.models import ModelVersion
from shopops.registry.services import active_model_version
from vision.selectors import KIND


def version_pick(version_number: int | None) -> ModelVersion:
    """The CNN version a command evaluates: ``--model-version N``, else the active one."""
    if version_number is None:
        version = active_model_version(kind=KIND)
        if version is None:
            raise CommandError(
                "No CNN is active yet: run vision_train first, or pass --model-version."
            )
        return version
    version = ModelVersion.objects.filter(kind=KIND, version=version_number).first()
    if version is None or version.status not in (
        ModelVersion.Status.READY,
        ModelVersion.Status.ACTIVE,
    ):
        raise CommandError(f"There is no trained CNN v{version_number}.")
    return version
