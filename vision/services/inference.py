"""Loading a registered CNN and running it on stored or uploaded images."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.files.storage import default_storage

from shopops.registry.models import ModelVersion
from shopops.registry.services import model_version_artifact_verify
from vision.engine.preprocess import ImageRejected, decode_image, to_square
from vision.engine.training import CnnClassifier
from vision.selectors import LABELS_FILE

MODEL_SUBDIR = "cnn"


@dataclass
class LoadedModel:
    version_id: int
    classifier: CnnClassifier
    source: str  # "shop" (classes are category ids) or "folder" (classes are folder names)

    @property
    def image_size(self) -> int:
        return int(self.classifier.image_size)

    def arrays(self, images: list[Any]) -> np.ndarray:
        """Decoded RGB PIL images -> the uint8 squares the model was trained on."""
        return np.stack(
            [np.asarray(to_square(image, self.image_size, mode="pad")) for image in images]
        ).astype(np.uint8)


_lock = threading.Lock()
_cache: dict[tuple[int, str], LoadedModel] = {}


def model_load(*, version: ModelVersion) -> LoadedModel:
    """The version's classifier, checked against its sha256 once and then kept per process."""
    key = (version.id, version.artifact_sha256)
    with _lock:
        if key in _cache:
            return _cache[key]
    directory = model_version_artifact_verify(version=version)
    classifier = CnnClassifier.load(directory / MODEL_SUBDIR, device="cpu")
    labels = json.loads((directory / LABELS_FILE).read_text())
    loaded = LoadedModel(version.id, classifier, labels["source"])
    with _lock:
        _cache.clear()  # serving uses one version at a time; keep memory flat across promotions
        _cache[key] = loaded
    return loaded


def stored_image_decode(name: str):
    """A stored product image as an RGB PIL image; None when missing or not a safe image."""
    try:
        with default_storage.open(name, "rb") as handle:
            return decode_image(handle.read())
    except (OSError, ImageRejected):
        return None


def embeddings_compute(model: LoadedModel, images: list[Any]) -> np.ndarray:
    """L2-normalised embeddings (float32) of decoded images."""
    return model.classifier.embed(model.arrays(images)).astype(np.float32)


def analysis_compute(
    model: LoadedModel, images: list[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings (float32), top label and its probability per image, from one pass."""
    vectors, probabilities = model.classifier.embed_and_predict_proba(model.arrays(images))
    top = probabilities.argmax(axis=1)
    labels = model.classifier.classes_[top]
    return vectors.astype(np.float32), labels, probabilities[np.arange(len(top)), top]
