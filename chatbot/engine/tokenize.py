"""Language detection, normalisation and tokenisation for English and Chinese chat text.

Pure Python (plus jieba for Chinese word segmentation); no Django.
"""

from __future__ import annotations

import logging
import re
import unicodedata

import jieba

# jieba prints "Building prefix dict ..." at INFO on first use; chat logs don't need it.
jieba.setLogLevel(logging.WARNING)
logging.getLogger("jieba").setLevel(logging.WARNING)

ENGLISH = "en"
CHINESE = "zh"

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD_RE = re.compile(r"[a-z]+")
_EN_TOKEN_RE = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?")
_ZH_KEEP_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffA-Za-z0-9]")


def normalize(text: str) -> str:
    """Fold full-width ASCII and ideographic spaces to half-width and collapse whitespace.

    NFKC turns ``ＡＢＣ１２３`` into ``ABC123`` and ``　`` into a space, but keeps CJK
    punctuation such as ``。`` that has no half-width form.
    """
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", " ", text).strip()


def detect_language(text: str) -> str:
    """Return ``"zh"`` when CJK characters dominate the text, else ``"en"``.

    "Dominate" compares CJK characters with Latin words: a Chinese sentence with one English
    product name (``我想买iPhone``) is still Chinese; an English sentence with one quoted
    character is English.
    """
    text = normalize(text)
    cjk = len(_CJK_RE.findall(text))
    latin_words = len(_LATIN_WORD_RE.findall(text.lower()))
    if cjk == 0:
        return ENGLISH
    # A Chinese "word" is ~1.5 characters on average, so compare in comparable units.
    return CHINESE if cjk / 1.5 >= latin_words else ENGLISH


def tokenize_english(text: str) -> list[str]:
    """Lowercase words (keeping simple contractions) and numbers."""
    return _EN_TOKEN_RE.findall(normalize(text).lower())


def tokenize_chinese(text: str) -> list[str]:
    """Segment with jieba; drop punctuation and whitespace; lowercase embedded Latin words."""
    tokens = []
    for token in jieba.lcut(normalize(text)):
        token = token.strip().lower()
        if token and _ZH_KEEP_RE.search(token):
            tokens.append(token)
    return tokens


def segmenter_load() -> None:
    """Load jieba's dictionary now (about half a second, once per process) instead of on the
    first Chinese message, which would otherwise wait for it."""
    jieba.initialize()


def tokenize(text: str, language: str | None = None) -> list[str]:
    """Tokenise ``text`` in ``language`` (detected when ``None``)."""
    language = language or detect_language(text)
    if language == CHINESE:
        return tokenize_chinese(text)
    return tokenize_english(text)
