"""Training the "cnn" kind through the registry, its promotion gate, and re-indexing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from sklearn.model_selection import train_test_split

from shopops.registry.models import ModelVersion
from shopops.registry.services import (
    GateDecision,
    ProgressCallback,
    Trainer,
    TrainingDataError,
    TrainingResult,
    metric_gate,
)
from shopops.store.models import ProductImage
from shopops.store.selectors import category_paths
from vision import selectors
from vision.engine.evaluation import classification_metrics
from vision.engine.features import HandcraftedClassifier
from vision.engine.training import CnnClassifier
from vision.folders import image_folder_read, images_to_array
from vision.models import ImageEmbedding
from vision.selectors import EVALUATION_FILE, KIND, LABELS_FILE
from vision.services.inference import MODEL_SUBDIR
from vision.services.suggestions import images_analyse

#: Small enough that ``make demo`` trains on the demo shop's 260 photos in about a minute on two
#: cores (the demo's shapes need no more than 32 px); ``vision_train`` options override them.
DEFAULT_PARAMS: dict[str, Any] = {
    "epochs": 30,
    "batch_size": 16,
    "lr": 5e-3,
    "image_size": 32,
    "width": 16,
    "blocks_per_stage": 1,
    "patience": 8,
    "validation_fraction": 0.2,
    "random_state": 0,
}
CNN_PARAM_NAMES = frozenset(CnnClassifier().get_params())
MIN_IMAGES_PER_CLASS = 2
REINDEX_BATCH = 128


def _read_stored(name: str) -> bytes | None:
    try:
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _shop_dataset() -> tuple[list[bytes], list[Any], dict[str, str]]:
    """The shop's labelled product images (bytes), their category ids and the class names."""
    rows = selectors.training_images()
    names = category_paths()
    items, labels = [], []
    for row in rows:
        data = _read_stored(row.name)
        if data is not None:
            items.append(data)
            labels.append(row.category_id)
    return items, labels, {str(label): names.get(label, str(label)) for label in set(labels)}


def _folder_dataset(root: str, label_depth: int | None) -> tuple[list[Path], list[str], dict]:
    try:
        paths, labels = image_folder_read(root, label_depth=label_depth)
    except (FileNotFoundError, ValueError) as error:
        raise TrainingDataError(str(error)) from error
    return paths, labels, {label: label for label in set(labels)}


def _keep_trainable_classes(images: np.ndarray, labels: np.ndarray):
    """Drop classes too small to appear on both sides of a stratified split."""
    values, counts = np.unique(labels, return_counts=True)
    keep = np.isin(labels, values[counts >= MIN_IMAGES_PER_CLASS])
    return images[keep], labels[keep], sorted(values[counts < MIN_IMAGES_PER_CLASS].tolist())


def _split(labels: np.ndarray, fraction: float, seed: int):
    classes = len(np.unique(labels))
    test_size = max(int(round(len(labels) * fraction)), classes)
    if test_size >= len(labels) - classes + 1:
        raise TrainingDataError(
            f"{len(labels)} images of {classes} categories are too few to hold out a "
            "validation set; add more product photos."
        )
    return train_test_split(
        np.arange(len(labels)), test_size=test_size, random_state=seed, stratify=labels
    )


def cnn_train(
    *, params: dict[str, Any], artifact_dir: Path, progress: ProgressCallback
) -> TrainingResult:
    """The registry's trainer for "cnn": the shop's photos by category, or a folder dataset
    when ``params["images_dir"]`` is set (``vision_train --images``).

    Writes ``cnn/`` (weights + params), ``labels.json`` and ``evaluation.json`` (curves,
    confusion matrix, per-class metrics, the hand-crafted baseline) into ``artifact_dir``.
    """
    started = timezone.now()
    merged = {**DEFAULT_PARAMS, **params}
    images_dir = merged.get("images_dir") or ""
    progress(0.02, "reading images")
    if images_dir:
        items, raw_labels, names = _folder_dataset(images_dir, merged.get("label_depth"))
        source = "folder"
    else:
        items, raw_labels, names = _shop_dataset()
        source = "shop"
    size = int(merged["image_size"])
    arrays, kept, skipped = images_to_array(items, size=size)
    labels = np.asarray(raw_labels, dtype=object)[kept] if kept else np.asarray([])
    if source == "shop" and len(labels):
        labels = labels.astype(np.int64)
    elif len(labels):
        labels = labels.astype(str)
    arrays, labels, dropped = _keep_trainable_classes(arrays, labels)
    if len(np.unique(labels)) < 2:
        where = images_dir or "the shop's product images"
        raise TrainingDataError(
            f"Training needs photos of at least two categories with {MIN_IMAGES_PER_CLASS}+ "
            f"images each; {where} has {len(labels)} usable image(s)."
        )
    seed = int(merged["random_state"])
    train_idx, val_idx = _split(labels, float(merged["validation_fraction"]), seed)

    progress(0.05, "hand-crafted baseline")
    baseline_started = time.perf_counter()
    baseline = HandcraftedClassifier(random_state=seed).fit(arrays[train_idx], labels[train_idx])
    baseline_predictions = baseline.predict(arrays[val_idx])
    baseline_seconds = time.perf_counter() - baseline_started

    epochs = int(merged["epochs"])

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        progress(
            0.1 + 0.8 * epoch / epochs,
            f"epoch {epoch}/{epochs}: val accuracy {metrics.get('val_accuracy', 0):.3f}",
        )

    cnn_params = {name: merged[name] for name in CNN_PARAM_NAMES if name in merged}
    cnn_params.update(validation_fraction=0.0, device=merged.get("device", "auto"))
    classifier = CnnClassifier(**cnn_params).fit(
        arrays[train_idx],
        labels[train_idx],
        validation=(arrays[val_idx], labels[val_idx]),
        progress=on_epoch,
    )
    progress(0.92, "evaluating")
    predictions = classifier.predict(arrays[val_idx])
    display = np.vectorize(lambda label: names[str(label)], otypes=[object])
    class_order = sorted(names[str(label)] for label in np.unique(labels))
    cnn_eval = classification_metrics(
        display(labels[val_idx]), display(predictions), labels=class_order
    )
    baseline_eval = classification_metrics(
        display(labels[val_idx]), display(baseline_predictions), labels=class_order
    )

    classifier.save(artifact_dir / MODEL_SUBDIR)
    (artifact_dir / LABELS_FILE).write_text(
        json.dumps({"source": source, "names": names, "images_dir": str(images_dir)})
    )
    evaluation = {
        "history": classifier.history_,
        "labels": cnn_eval["labels"],
        "confusion_matrix": cnn_eval["confusion_matrix"],
        "per_class": cnn_eval["per_class"],
        "baseline": {
            "accuracy": baseline_eval["accuracy"],
            "macro_f1": baseline_eval["macro_f1"],
            "per_class": baseline_eval["per_class"],
            "confusion_matrix": baseline_eval["confusion_matrix"],
        },
        "skipped_images": skipped[:50],
        "dropped_classes": [str(label) for label in dropped],
    }
    (artifact_dir / EVALUATION_FILE).write_text(json.dumps(evaluation))
    metrics = {
        "val_accuracy": cnn_eval["accuracy"],
        "macro_f1": cnn_eval["macro_f1"],
        "baseline_accuracy": baseline_eval["accuracy"],
        "baseline_macro_f1": baseline_eval["macro_f1"],
        "n_classes": len(class_order),
        "n_train": len(train_idx),
        "n_validation": len(val_idx),
        "best_epoch": classifier.best_epoch_,
        "epochs_run": len(classifier.history_),
        "fit_seconds": round(classifier.fit_seconds_, 2),
        "baseline_seconds": round(baseline_seconds, 2),
        "skipped_images": len(skipped),
        "source": source,
    }
    return TrainingResult(
        metrics=metrics,
        data_window_start=started,
        data_window_end=timezone.now(),
        params={**merged, "images_dir": str(images_dir)},
    )


def cnn_gate(new: dict[str, Any], active: dict[str, Any]) -> GateDecision:
    """Promote a CNN trained on the shop's photos whose validation accuracy is not worse than
    the active one's (within ``VISION_PROMOTION_TOLERANCE``). A folder-dataset model is kept
    for evaluation only: its classes are not the shop's categories."""
    if new.get("source") != "shop":
        return GateDecision(False, "trained on a folder dataset, not the shop's categories")
    gate = metric_gate("val_accuracy", tolerance=settings.VISION_PROMOTION_TOLERANCE)
    return gate(new, active)


def catalog_reindex(*, version_id: int) -> int:
    """Embed and categorise every product image with ``version_id`` (the newly active CNN) and
    drop other versions' embeddings. Returns the number of images analysed; a re-run only
    refreshes what is already there."""
    version = ModelVersion.objects.filter(pk=version_id, kind=KIND).first()
    if version is None or version.status != ModelVersion.Status.ACTIVE:
        return 0  # promoted again since: the newer version's own re-index does the work
    analysed = 0
    images = ProductImage.objects.select_related("product").order_by("id")
    last_id = 0
    while True:
        batch = list(images.filter(id__gt=last_id)[:REINDEX_BATCH])
        if not batch:
            break
        last_id = batch[-1].id
        analysed += images_analyse(images=batch, version=version)
    ImageEmbedding.objects.exclude(model_version=version).delete()
    return analysed


def cnn_on_promote(version: ModelVersion) -> None:
    from vision.tasks import catalog_reindex_task  # tasks -> services; late import

    catalog_reindex_task.delay(version.id)


def cnn_trainer() -> Trainer:
    return Trainer(
        kind=KIND,
        train=cnn_train,
        gate=cnn_gate,
        default_params=dict(DEFAULT_PARAMS),
        on_promote=cnn_on_promote,
        title="Product photo CNN",
    )
