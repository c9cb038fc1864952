"""Product matching fast enough for a chat turn against a whole catalogue.

:class:`EntityExtractor` scores every product alias against the message in a Python loop
(a regex and a rapidfuzz call per alias and span): about 5 ms for a few hundred products,
which alone would eat the turn's budget. :class:`CatalogueEntityExtractor` gives the same
matches and scores with the work moved out of the loop: aliases are grouped by word count
once, each group is scored against all the message's spans in one ``rapidfuzz.process.cdist``
call, and the containment regex runs only for aliases that occur in the text as a substring.

Pure Python; no Django.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
from rapidfuzz import fuzz, process

from chatbot.engine.entities import (
    EntityExtractor,
    ProductMatch,
    Vocabulary,
    _is_cjk,
    _whole_word,
)
from chatbot.engine.entities import Product as CatalogueProduct
from chatbot.engine.tokenize import tokenize_english


class CatalogueEntityExtractor(EntityExtractor):
    """:class:`EntityExtractor` with a vectorised product matcher (same results)."""

    def __init__(self, vocabulary: Vocabulary, product_cutoff: float = 80.0) -> None:
        super().__init__(vocabulary, product_cutoff)
        self._latin: dict[str, tuple[re.Pattern[str], list[CatalogueProduct]]] = {}
        self._cjk: dict[str, list[CatalogueProduct]] = {}
        for alias, product in self._aliases:
            if not alias:
                continue
            if _is_cjk(alias):
                self._cjk.setdefault(alias, []).append(product)
            else:
                entry = self._latin.setdefault(alias, (_whole_word(alias), []))
                entry[1].append(product)
        # Fuzzy candidates: aliases longer than three characters, grouped by word count.
        by_words: dict[int, list[str]] = defaultdict(list)
        for alias in self._latin:
            if len(alias) > 3:
                by_words[len(alias.split())].append(alias)
        self._latin_groups = dict(by_words)
        by_size: dict[int, list[str]] = defaultdict(list)
        for alias in self._cjk:
            if len(alias) >= 2:
                by_size[len(alias)].append(alias)
        self._cjk_groups = dict(by_size)

    def _products(self, text: str, language: str) -> list[ProductMatch]:
        scores: dict[str, float] = {}
        # Exact (whole-word) containment scores 100; a substring test first skips the regex.
        for alias, (pattern, _products) in self._latin.items():
            if alias in text and pattern.search(text):
                scores[alias] = 100.0
        words = tokenize_english(text)
        for size, aliases in self._latin_groups.items():
            spans = {
                " ".join(words[i : i + n])
                for n in {max(1, size - 1), size, size + 1}
                for i in range(len(words) - n + 1)
            }
            self._fuzzy(aliases, list(spans), scores)
        if _is_cjk(text):
            for alias in self._cjk:
                if alias in text:
                    scores[alias] = 100.0
            for size, aliases in self._cjk_groups.items():
                windows = {
                    text[i : i + n] for n in (size - 1, size, size + 1) for i in range(len(text))
                }
                self._fuzzy(aliases, [w for w in windows if len(w) >= size - 1], scores)
        best: dict[int, ProductMatch] = {}
        for alias, score in scores.items():
            if score < self.product_cutoff:
                continue
            products = self._latin[alias][1] if alias in self._latin else self._cjk[alias]
            for product in products:
                if product.id not in best or score > best[product.id].score:
                    best[product.id] = ProductMatch(product.id, product.name, round(score, 1))
        return sorted(best.values(), key=lambda match: (-match.score, match.product_id))

    def _fuzzy(self, aliases: list[str], spans: list[str], scores: dict[str, float]) -> None:
        pending = [alias for alias in aliases if alias not in scores]
        if not pending or not spans:
            return
        matrix = process.cdist(
            pending,
            spans,
            scorer=fuzz.ratio,
            score_cutoff=self.product_cutoff,
            dtype=np.float64,
        )
        for alias, score in zip(pending, matrix.max(axis=1), strict=True):
            if score >= self.product_cutoff:
                scores[alias] = float(score)
