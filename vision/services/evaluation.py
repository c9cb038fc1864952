"""Offline evaluation of a registered CNN on image folders, beside the hand-crafted baseline.

Used by ``vision_evaluate`` (classification) and ``vision_search_eval`` (search by photo).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler

from shopops.registry.models import ModelVersion
from shopops.registry.services import model_version_artifact_verify
from vision.engine.evaluation import classification_metrics
from vision.engine.features import HandcraftedClassifier, extract_features_batch
from vision.engine.search import EmbeddingIndex, recall_at_k
from vision.folders import image_folder_read, images_to_array
from vision.selectors import LABELS_FILE
from vision.services.inference import model_load
from vision.services.training import _shop_dataset


class EvaluationError(Exception):
    """The folders or the model cannot be evaluated (no images, no overlap, no artifact)."""


def _model_names(version: ModelVersion) -> tuple[str, dict[str, str], dict[str, Any]]:
    directory = model_version_artifact_verify(version=version)
    labels = json.loads((directory / LABELS_FILE).read_text())
    return labels["source"], labels["names"], version.params


def _display_label(source: str, names: dict[str, str], label: Any) -> str:
    """A model's class as a folder would name it: shop categories by their leaf name."""
    name = names.get(str(label), str(label))
    return name.rsplit(" / ", 1)[-1] if source == "shop" else name


def _baseline_training_set(source: str, names: dict[str, str], params: dict[str, Any], size: int):
    """The model's own training images, for re-fitting the hand-crafted baseline."""
    if source == "folder":
        paths, labels = image_folder_read(
            params["images_dir"], label_depth=params.get("label_depth")
        )
        arrays, kept, _ = images_to_array(paths, size=size)
        return arrays, np.asarray(labels)[kept]
    items, labels, _ = _shop_dataset()
    arrays, kept, _ = images_to_array(items, size=size)
    return arrays, np.asarray([_display_label(source, names, labels[i]) for i in kept])


def folder_evaluate(
    *, version: ModelVersion, images_dir: str | Path, label_depth: int | None = None
) -> dict[str, Any]:
    """Accuracy and macro-F1 of ``version`` on ``images_dir`` (``root/<class>/*``), beside the
    hand-crafted baseline re-fitted on the same images the CNN was trained on.

    Folder classes are compared with the model's classes by name (a shop model's classes are
    its categories' names); an image of a class the model never saw counts as an error. A
    ``label_depth`` shallower than a folder model's scores its predictions cut to that depth.
    """
    source, names, params = _model_names(version)
    depth = label_depth if label_depth is not None else params.get("label_depth")
    try:
        paths, folder_labels = image_folder_read(images_dir, label_depth=depth)
    except (FileNotFoundError, ValueError) as error:
        raise EvaluationError(str(error)) from error
    model = model_load(version=version)
    arrays, kept, skipped = images_to_array(paths, size=model.image_size)
    if not kept:
        raise EvaluationError(f"no readable image under {images_dir}")
    truth = np.asarray(folder_labels)[kept]

    def coarsen(labels) -> np.ndarray:
        # A folder model's classes are paths: a shallower --label-depth than it was trained
        # with scores its fine predictions at the coarse level (Grocery: fine -> coarse).
        if source != "folder" or label_depth is None:
            return np.asarray(labels)
        return np.asarray(["/".join(str(label).split("/")[:label_depth]) for label in labels])

    predicted = coarsen(
        [_display_label(source, names, label) for label in model.classifier.predict(arrays)]
    )
    known = set(
        coarsen([_display_label(source, names, label) for label in model.classifier.classes_])
    )
    if not known & set(truth.tolist()):
        raise EvaluationError(
            "none of the folder's classes is a class of this model; check --label-depth"
        )
    labels = sorted(set(truth.tolist()) | set(predicted.tolist()))
    cnn = classification_metrics(truth, predicted, labels=labels)

    baseline_size = HandcraftedClassifier().image_size
    train_arrays, train_labels = _baseline_training_set(source, names, params, baseline_size)
    baseline_model = HandcraftedClassifier().fit(train_arrays, train_labels)
    eval_arrays, _, _ = images_to_array([paths[i] for i in kept], size=baseline_size)
    baseline = classification_metrics(
        truth, coarsen(baseline_model.predict(eval_arrays)), labels=labels
    )
    return {
        "images": len(kept),
        "skipped": len(skipped),
        "classes": len(set(truth.tolist())),
        "unknown_class_images": int(sum(label not in known for label in truth.tolist())),
        "cnn": cnn,
        "baseline": baseline,
    }


def _handcrafted_vectors(catalog: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, ...]:
    """Hand-crafted features standardised on the catalogue (cosine then weighs every feature)."""
    catalog_features = extract_features_batch(catalog)
    scaler = StandardScaler().fit(catalog_features)
    return scaler.transform(catalog_features), scaler.transform(extract_features_batch(queries))


def folder_search_evaluate(
    *,
    version: ModelVersion,
    catalog_dir: str | Path,
    queries_dir: str | Path,
    ks: tuple[int, ...] = (1, 5),
    match_by: str = "path",
) -> dict[str, Any]:
    """Recall@k of query photos against catalogue photos: each folder is one product, in both
    trees, named by its path under the root (``match_by="path"``) or by its own name
    (``"leaf"``: the Grocery Store files one product under a different parent in its catalogue).
    CNN embeddings beside hand-crafted features."""
    try:
        catalog_paths, catalog_products = image_folder_read(catalog_dir)
        query_paths, query_products = image_folder_read(queries_dir)
    except (FileNotFoundError, ValueError) as error:
        raise EvaluationError(str(error)) from error
    if match_by == "leaf":
        catalog_products = [name.rsplit("/", 1)[-1] for name in catalog_products]
        query_products = [name.rsplit("/", 1)[-1] for name in query_products]
    elif match_by != "path":
        raise EvaluationError(f"unknown match {match_by!r}: use path or leaf")
    model = model_load(version=version)
    catalog, catalog_kept, _ = images_to_array(catalog_paths, size=model.image_size)
    queries, query_kept, _ = images_to_array(query_paths, size=model.image_size)
    catalog_ids = np.asarray(catalog_products)[catalog_kept]
    query_ids = np.asarray(query_products)[query_kept]
    in_catalog = np.isin(query_ids, catalog_ids)
    if not in_catalog.any():
        raise EvaluationError("no query folder matches a catalogue folder")
    queries, query_ids = queries[in_catalog], query_ids[in_catalog]

    small = HandcraftedClassifier().image_size
    catalog_small, _, _ = images_to_array([catalog_paths[i] for i in catalog_kept], size=small)
    kept_queries = [query_paths[i] for i, keep in zip(query_kept, in_catalog, strict=True) if keep]
    queries_small, _, _ = images_to_array(kept_queries, size=small)
    handcrafted_catalog, handcrafted_queries = _handcrafted_vectors(catalog_small, queries_small)

    results: dict[str, Any] = {
        "catalog_images": len(catalog_ids),
        "products": len(set(catalog_ids.tolist())),
        "queries": len(query_ids),
        "queries_without_product": int((~in_catalog).sum()),
    }
    for name, catalog_vectors, query_vectors in (
        ("cnn", model.classifier.embed(catalog), model.classifier.embed(queries)),
        ("handcrafted", handcrafted_catalog, handcrafted_queries),
    ):
        index = EmbeddingIndex().add(catalog_ids, catalog_vectors)
        results[name] = {
            f"recall@{k}": recall_at_k(index, query_vectors, query_ids, k=k) for k in ks
        }
    return results
