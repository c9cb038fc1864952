"""Exact cosine nearest-neighbour search over L2-normalised embeddings (numpy, no Django)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class EmbeddingIndex:
    """Brute-force cosine index: exact, and fast enough for catalogues of ~10^5 items.

    Ids are integers or strings (stored as a numpy array; no pickles on disk).
    """

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim
        self.ids_ = np.empty(0, dtype=np.int64)
        self.vectors_ = np.empty((0, dim or 0), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids_)

    def add(self, ids: Sequence[Any] | np.ndarray, vectors: np.ndarray) -> EmbeddingIndex:
        """Append ``vectors`` (N, dim) under ``ids`` (N,); vectors are re-normalised."""
        vectors = _normalise(vectors)
        ids = np.asarray(ids)
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        if self.dim is None:
            self.dim = vectors.shape[1]
        if vectors.shape[1] != self.dim:
            raise ValueError(f"expected dim {self.dim}, got {vectors.shape[1]}")
        if len(self.ids_) == 0:
            self.ids_ = ids.copy()
            self.vectors_ = vectors
        else:
            self.ids_ = np.concatenate([self.ids_, ids])
            self.vectors_ = np.vstack([self.vectors_, vectors])
        return self

    def query(self, vector: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ids and cosine scores (descending) for one query vector."""
        ids, scores = self.query_batch(np.asarray(vector).reshape(1, -1), k)
        return ids[0], scores[0]

    def query_batch(self, vectors: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ids and scores for each row of ``vectors``: arrays of shape (Q, k)."""
        if len(self.ids_) == 0:
            raise ValueError("the index is empty")
        k = min(k, len(self.ids_))
        scores = _normalise(vectors) @ self.vectors_.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        # Stable tie-break on insertion order keeps results reproducible.
        order = np.lexsort((top, -top_scores), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        return self.ids_[top], np.take_along_axis(scores, top, axis=1)

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        np.savez(path, ids=self.ids_, vectors=self.vectors_)
        return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")

    @classmethod
    def load(cls, path: str | os.PathLike) -> EmbeddingIndex:
        with np.load(path, allow_pickle=False) as data:
            index = cls(dim=int(data["vectors"].shape[1]))
            index.ids_ = data["ids"]
            index.vectors_ = data["vectors"].astype(np.float32)
        return index


def recall_at_k(
    index: EmbeddingIndex,
    query_vectors: np.ndarray,
    relevant_ids: Sequence[Any] | np.ndarray,
    k: int = 5,
) -> float:
    """Share of queries whose relevant catalogue id is among the top ``k`` results."""
    found, _ = index.query_batch(query_vectors, k)
    relevant = np.asarray(relevant_ids).reshape(-1, 1)
    return float((found == relevant).any(axis=1).mean())
