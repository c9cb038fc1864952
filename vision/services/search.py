"""Search by photo: an untrusted upload -> the catalogue's closest products."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from shopops.registry.models import ModelVersion
from shopops.registry.services import active_model_version
from vision.engine.preprocess import ImageRejected, decode_image
from vision.models import PhotoSearch
from vision.selectors import KIND, ProductMatch, products_matching
from vision.services.inference import embeddings_compute, model_load

#: What each rejection reason tells the person who uploaded the file.
REJECTION_MESSAGES = {
    "empty": "The file is empty.",
    "too_large": "The photo is too large: upload at most {max_mb} MB.",
    "too_many_pixels": "The photo has too many pixels: upload a smaller image.",
    "decompression_bomb": "The photo has too many pixels: upload a smaller image.",
    "not_an_image": "This file is not an image we can read: upload a JPEG, PNG or WebP photo.",
    "unsupported_format": "This image format is not supported: upload a JPEG, PNG or WebP photo.",
    "truncated": "The photo is incomplete (the file was cut off): upload it again.",
}


class PhotoRejected(Exception):
    """The upload is not a photo we can search with; ``message`` says why, for the uploader."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        max_mb = settings.VISION_UPLOAD_MAX_BYTES / (1024 * 1024)
        template = REJECTION_MESSAGES.get(reason, REJECTION_MESSAGES["not_an_image"])
        self.message = template.format(max_mb=f"{max_mb:g}")
        super().__init__(self.message)


class PhotoSearchUnavailable(Exception):
    """No image model is active yet, so there is nothing to compare a photo with."""


@dataclass(frozen=True)
class PhotoSearchResult:
    matches: list[ProductMatch]
    model_version: ModelVersion


def upload_read(*, upload) -> bytes:
    """Read an uploaded file, refusing an oversized one before it is read into memory."""
    if upload is None:
        raise PhotoRejected("empty")
    if upload.size is not None and upload.size > settings.VISION_UPLOAD_MAX_BYTES:
        raise PhotoRejected("too_large")
    return upload.read(settings.VISION_UPLOAD_MAX_BYTES + 1)


def photo_search(*, data: bytes, channel: str, user=None, limit: int = 8) -> PhotoSearchResult:
    """The ``limit`` products whose photos look most like ``data``.

    The photo is decoded with the engine's safe decoder and never stored; a rejected photo
    raises :class:`PhotoRejected` and leaves no trace. A successful search is logged (who,
    when, the top product: never the photo) in ``PhotoSearch``.
    """
    started = time.perf_counter()
    try:
        picture = decode_image(
            data,
            max_bytes=settings.VISION_UPLOAD_MAX_BYTES,
            max_pixels=settings.VISION_UPLOAD_MAX_PIXELS,
        )
    except ImageRejected as error:
        raise PhotoRejected(error.reason) from error
    version = active_model_version(kind=KIND)
    if version is None:
        raise PhotoSearchUnavailable(
            "Search by photo is not available yet: no image model has been trained."
        )
    model = model_load(version=version)
    vector = embeddings_compute(model, [picture])[0]
    matches = products_matching(version_id=version.id, vector=vector, limit=limit)
    PhotoSearch.objects.create(
        channel=channel,
        user=user if user is not None and user.is_authenticated else None,
        model_version=version,
        result_count=len(matches),
        top_product_id=matches[0].product_id if matches else None,
        top_similarity=matches[0].similarity if matches else None,
        seconds=time.perf_counter() - started,
    )
    return PhotoSearchResult(matches=matches, model_version=version)
