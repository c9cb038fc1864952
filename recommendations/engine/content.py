"""Content-based recommendations from product text (TF-IDF).

Each item's text is its name, category, description and attributes (see :func:`item_text`).
Item vectors are scikit-learn ``TfidfVectorizer`` rows, L2-normalised, so a dot product is a
cosine. A user's profile is the interaction-weighted mean of the vectors of the items they
interacted with; an item's score is its dot product with the profile. Items are comparable
even if nobody bought them yet, which is what this model adds to collaborative filtering.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from .base import Recommender

__all__ = ["ContentRecommender", "item_text"]

TEXT_FIELDS = ("name", "category", "description", "attributes")


def item_text(
    *,
    name: str = "",
    description: str = "",
    category: str = "",
    attributes: Mapping[str, Any] | str | None = None,
    name_repeats: int = 2,
) -> str:
    """One item's document. The name is repeated ``name_repeats`` times: it is short and
    the most telling field; attributes contribute ``"key value"`` pairs."""
    if isinstance(attributes, Mapping):
        attribute_text = " ".join(f"{key} {value}" for key, value in attributes.items())
    else:
        attribute_text = attributes or ""
    parts = [name] * max(name_repeats, 1) + [category, description, attribute_text]
    return " ".join(part for part in parts if part)


def _documents(item_features: Sequence[Any]) -> list[str]:
    documents = []
    for features in item_features:
        if isinstance(features, str):
            documents.append(features)
        elif isinstance(features, Mapping):
            unknown = set(features) - set(TEXT_FIELDS)
            if unknown:
                raise ValueError(f"unknown item text fields {sorted(unknown)}")
            documents.append(item_text(**features))
        elif features is None:
            documents.append("")
        else:
            raise TypeError("item_features entries must be str, mapping or None")
    return documents


class ContentRecommender(Recommender):
    """TF-IDF content-based recommender.

    ``fit(interactions, item_features=...)`` needs ``item_features``: one entry per item,
    either a string or a mapping with keys among ``name``, ``category``, ``description``,
    ``attributes``. The other parameters go to ``TfidfVectorizer``.

    Fitted: ``item_vectors_`` (CSR items x terms, L2 rows), ``vocabulary_`` (terms in column
    order), ``idf_``.
    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = ("item_vectors_", "vocabulary_", "idf_")

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 1),
        min_df: int | float = 1,
        max_df: float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        stop_words: str | None = "english",
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.stop_words = stop_words

    def fit(self, interactions: sparse.csr_matrix, *, item_features: Any = None) -> Self:
        if item_features is None:
            raise ValueError("ContentRecommender needs item_features (one text per item)")
        documents = _documents(item_features)
        if len(documents) != interactions.shape[1]:
            raise ValueError("item_features needs one entry per item (matrix column)")
        self._fit_interactions(interactions)
        vectorizer = TfidfVectorizer(
            ngram_range=tuple(self.ngram_range),
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            stop_words=self.stop_words,
            dtype=np.float64,
        )
        self.item_vectors_ = sparse.csr_matrix(vectorizer.fit_transform(documents))
        self.vocabulary_ = np.asarray(vectorizer.get_feature_names_out(), dtype=str)
        self.idf_ = np.asarray(vectorizer.idf_, dtype=np.float64)
        return self

    def _score_batch(self, user_indices: np.ndarray) -> np.ndarray:
        weights = self.interactions_[user_indices]
        totals = np.asarray(weights.sum(axis=1)).ravel()
        inverse = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        profiles = sparse.diags(inverse) @ weights @ self.item_vectors_
        return (profiles @ self.item_vectors_.T).toarray()

    def _item_similarity(self, item_index: int) -> np.ndarray:
        return (self.item_vectors_ @ self.item_vectors_[item_index].T).toarray().ravel()
