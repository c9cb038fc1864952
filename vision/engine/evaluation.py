"""Classification metrics for image models (scikit-learn, no Django)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics


def classification_metrics(
    y_true: Sequence[Any] | np.ndarray,
    y_pred: Sequence[Any] | np.ndarray,
    *,
    labels: Sequence[Any] | np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Returns plain Python types (JSON-serialisable) so the result can go into a registry row.
    ``confusion_matrix[i][j]`` counts true ``labels[i]`` predicted as ``labels[j]``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    labels = np.asarray(labels)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    per_class = {
        str(label): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels.tolist())
    }
    return {
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            metrics.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "per_class": per_class,
        "labels": [str(label) for label in labels.tolist()],
        "confusion_matrix": metrics.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
