"""Entity extraction for shop chat in English and Chinese: products, categories, quantities,
price limits, colours, sizes and order numbers.

Pure Python (plus rapidfuzz); no Django. The catalogue arrives as plain data so that the
dialogue engine can be tested without a database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from chatbot.engine.tokenize import CHINESE, detect_language, normalize, tokenize_english

DEFAULT_COLOURS: dict[str, tuple[str, ...]] = {
    "red": ("red", "红色", "红"),
    "blue": ("blue", "navy", "蓝色", "蓝"),
    "green": ("green", "绿色"),
    "black": ("black", "黑色", "黑"),
    "white": ("white", "白色", "白"),
    "grey": ("grey", "gray", "灰色"),
    "pink": ("pink", "粉色", "粉红色"),
    "yellow": ("yellow", "黄色"),
    "brown": ("brown", "棕色", "咖啡色"),
    "purple": ("purple", "紫色"),
}

DEFAULT_SIZES: dict[str, tuple[str, ...]] = {
    "XS": ("xs", "extra small", "加小号"),
    "S": ("s", "small", "小号"),
    "M": ("m", "medium", "中号"),
    "L": ("l", "large", "大号"),
    "XL": ("xl", "extra large", "加大号"),
    "XXL": ("xxl",),
}


@dataclass(frozen=True)
class Product:
    """One catalogue entry as the entity extractor sees it."""

    id: int
    name: str
    synonyms: tuple[str, ...] = ()
    category: str = ""


@dataclass(frozen=True)
class Vocabulary:
    """What the extractor matches against: products and canonical name -> aliases maps."""

    products: Sequence[Product] = ()
    categories: Mapping[str, Sequence[str]] = field(default_factory=dict)
    colours: Mapping[str, Sequence[str]] = field(default_factory=lambda: DEFAULT_COLOURS)
    sizes: Mapping[str, Sequence[str]] = field(default_factory=lambda: DEFAULT_SIZES)


@dataclass(frozen=True)
class ProductMatch:
    product_id: int
    name: str
    score: float


@dataclass
class Entities:
    language: str
    products: list[ProductMatch] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    quantity: int | None = None
    price_min: float | None = None
    price_max: float | None = None
    colours: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    order_numbers: list[str] = field(default_factory=list)

    @property
    def product_ids(self) -> list[int]:
        return [match.product_id for match in self.products]


# --- numerals -------------------------------------------------------------------------------

_EN_UNITS = {
    word: value
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_EN_TENS = {
    word: 10 * value
    for value, word in enumerate(
        ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    )
    if word != "_"
}
_EN_NUMBER_WORD = "|".join([*_EN_TENS, *_EN_UNITS, "hundred", "a dozen", "dozen"])
_EN_NUMBER_RE = re.compile(
    # "and" joins only after "hundred": "between ten and twenty" is two numbers, not 30.
    rf"\b(?:{_EN_NUMBER_WORD})(?:(?:[\s-]+|(?<=hundred)\s+and\s+)(?:{_EN_NUMBER_WORD}))*\b",
    re.IGNORECASE,
)

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_ZH_DIGITS |= {"七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_ZH_NUMBER_RE = re.compile(r"[零〇一二两三四五六七八九十百千万]+")


def english_number(words: str) -> int | None:
    """``"twenty-five"`` -> 25, ``"a hundred and five"`` -> 105; ``None`` if not a number."""
    total, current = 0, 0
    for word in re.split(r"[\s-]+", words.lower()):
        if word in ("and", "a"):
            continue
        if word in _EN_UNITS:
            current += _EN_UNITS[word]
        elif word in _EN_TENS:
            current += _EN_TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "dozen":
            current = max(current, 1) * 12
        else:
            return None
    return total + current


def chinese_number(text: str) -> int | None:
    """``"二十五"`` -> 25, ``"两"`` -> 2, ``"三百零五"`` -> 305, ``"一二三"`` -> 123."""
    if not text or any(ch not in _ZH_DIGITS and ch not in _ZH_UNITS for ch in text):
        return None
    if not any(ch in _ZH_UNITS for ch in text):
        return int("".join(str(_ZH_DIGITS[ch]) for ch in text))
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        elif ch == "万":
            total = (total + section + (digit or 0)) * 10000
            section, digit = 0, None
        else:
            section += (1 if digit is None else digit) * _ZH_UNITS[ch]
            digit = None
    return total + section + (digit or 0)


def numerals_to_digits(text: str) -> str:
    """Rewrite English and Chinese number words as Arabic digits, leaving the rest alone."""

    def english(match: re.Match[str]) -> str:
        value = english_number(match.group(0))
        return match.group(0) if value is None else str(value)

    def chinese(match: re.Match[str]) -> str:
        value = chinese_number(match.group(0))
        return match.group(0) if value is None else str(value)

    return _ZH_NUMBER_RE.sub(chinese, _EN_NUMBER_RE.sub(english, text))


# --- patterns on the digit-normalised text --------------------------------------------------

_NUM = r"(\d+(?:\.\d+)?)"
_CUR = r"(?:£|\$|€|¥|rmb|usd|gbp)?\s*"
_CUR_WORD = r"(?:\s*(?:pounds?|quid|dollars?|euros?|bucks|gbp|usd|元|块钱|块|rmb))?"
_NOT_DIGIT = r"(?<![\d.])"

_PRICE_RANGE_PATTERNS = [
    re.compile(rf"between\s+{_CUR}{_NUM}{_CUR_WORD}\s+and\s+{_CUR}{_NUM}", re.I),
    re.compile(rf"from\s+{_CUR}{_NUM}{_CUR_WORD}\s+to\s+{_CUR}{_NUM}", re.I),
    re.compile(rf"{_NOT_DIGIT}{_CUR}{_NUM}\s*(?:-|~|到|至)\s*{_CUR}{_NUM}\s*(?:元|块|pounds?|£)"),
    re.compile(
        rf"{_NOT_DIGIT}{_CUR}{_NUM}\s*(?:-|~)\s*{_CUR}{_NUM}(?=\s*(?:pounds?|quid|dollars?))"
    ),
    re.compile(rf"在?{_NUM}\s*(?:元|块)?\s*(?:和|到|至)\s*{_NUM}\s*(?:元|块钱|块)?之间"),
]
_PRICE_MAX_PATTERNS = [
    re.compile(
        rf"(?:under|below|less than|cheaper than|up to|no more than|not more than|max(?:imum)?"
        rf"|at most|within|lower than|<)\s*{_CUR}{_NUM}",
        re.I,
    ),
    # A limit word after the amount: "two hundred pounds max", "£50 or less", "30 tops".
    re.compile(
        rf"{_NOT_DIGIT}{_CUR}{_NUM}{_CUR_WORD}\s*(?:max(?:imum)?|or less|at most|tops|or under)\b",
        re.I,
    ),
    re.compile(rf"(?:不超过|不到|低于|少于|不高于|最多|以内)\s*{_NUM}"),
    re.compile(rf"{_NUM}\s*(?:元|块钱|块|rmb)?\s*(?:以下|以内|之内|内)"),
]
_PRICE_MIN_PATTERNS = [
    re.compile(
        rf"(?:over|above|more than|at least|from|higher than|>)\s*{_CUR}{_NUM}"
        rf"(?=\s*(?:pounds?|quid|dollars?|euros?|bucks|£|\$|$|\s|[.,!?]))",
        re.I,
    ),
    re.compile(rf"(?:高于|超过|至少|不低于)\s*{_NUM}"),
    re.compile(rf"{_NUM}\s*(?:元|块钱|块)?\s*以上"),
]
_ORDER_PATTERNS = [
    re.compile(r"(?<![A-Za-z\d])(DEMO\d{3,})(?!\d)", re.I),
    re.compile(r"#\s?(\d{4,})(?!\d)"),
    re.compile(
        r"(?:order|订单|单号)\s*(?:number|no\.?|num|号|编号)?\s*[:：]?\s*(\d{5,})(?!\d)", re.I
    ),
    re.compile(r"(?<![\d.£$€¥A-Za-z])(\d{6,})(?!\d)"),
]
_SIZE_PATTERNS = [
    re.compile(r"\bsize\s+([a-z]{1,3}|\d{1,2}(?:\.5)?)\b", re.I),
    re.compile(r"(?<![A-Za-z\d])([A-Za-z]{1,3}|\d{2})\s*码"),
    re.compile(r"(?<![A-Za-z\d])(XXL|XL|XS|S|M|L)(?![A-Za-z\d])"),
]
_ZH_MEASURE = "个件双条台瓶盒只本支套份张把包对箱袋副顶块"
_EN_NOT_QUANTITY = (
    r"(?:pounds?|quid|dollars?|euros?|bucks|p|pence|days?|weeks?|months?|years?|hours?"
    r"|minutes?|times?|percent|%|year|yo|and|to|or|plus|minus|cm|mm|inch|inches|is|are|was|of"
    r"|in|on|at|for|please|more|less|each|left)\b"
)
_EN_QUANTITY_RE = re.compile(rf"(?<![\d.£$€#])\b(\d{{1,3}})\s+(?!{_EN_NOT_QUANTITY})[a-z]", re.I)
_EN_X_QUANTITY_RE = re.compile(r"(?:\bx\s*(\d{1,3})\b|\b(\d{1,3})\s*x\b)", re.I)
_ZH_QUANTITY_RE = re.compile(rf"(?<![\d.])(\d{{1,3}})\s*[{_ZH_MEASURE}]")


def _blank(text: str, span: tuple[int, int]) -> str:
    """Replace a matched span with spaces so later patterns can't reuse its numbers."""
    start, end = span
    return text[:start] + " " * (end - start) + text[end:]


def _number(value: str) -> float:
    number = float(value)
    return int(number) if number.is_integer() else number


class EntityExtractor:
    """Extract :class:`Entities` from one customer message.

    Parameters
    ----------
    vocabulary : Vocabulary
        Catalogue products plus category, colour and size aliases.
    product_cutoff : float
        Minimum rapidfuzz ratio (0-100) for a product alias to match a span of the message;
        80 accepts a swapped pair of letters in a six-letter word ("hoodei") but not a
        different word.
    """

    def __init__(self, vocabulary: Vocabulary, product_cutoff: float = 80.0) -> None:
        self.vocabulary = vocabulary
        self.product_cutoff = product_cutoff
        self._aliases: list[tuple[str, Product]] = []
        for product in vocabulary.products:
            for alias in (product.name, *product.synonyms):
                self._aliases.append((normalize(alias).lower(), product))
        # The alias tables are searched on every message: index them once (longest alias
        # first, each with its pattern) instead of rebuilding and sorting them per message.
        self._colours = _AliasIndex.of(_by_alias(vocabulary.colours))
        self._categories = _AliasIndex.of(_by_alias(vocabulary.categories))
        self._size_names: dict[str, str] = {}
        for name, aliases in vocabulary.sizes.items():
            self._size_names[name.lower()] = name
            for alias in aliases:
                self._size_names[alias.lower()] = name
        # Multi-letter word aliases ("medium", "大号"); single letters only via patterns.
        self._size_words = _AliasIndex.of(
            {
                alias: name
                for alias, name in self._size_names.items()
                if _is_cjk(alias) or len(alias) > 2
            }
        )

    def extract(self, text: str) -> Entities:
        """Return the entities found in ``text`` (language detected from the text)."""
        text = normalize(text)
        language = detect_language(text)
        entities = Entities(language=language)
        work = text
        work, entities.order_numbers = self._order_numbers(work)
        digits = numerals_to_digits(work)
        digits = self._prices(digits, entities)
        digits, entities.sizes = self._sizes(digits)
        entities.quantity = self._quantity(digits, language)
        entities.colours = self._aliases_found(text, self.vocabulary.colours, self._colours)
        entities.categories = self._aliases_found(
            text, self.vocabulary.categories, self._categories
        )
        entities.products = self._products(text.lower(), language)
        return entities

    # -- parts ---------------------------------------------------------------------------------

    def _order_numbers(self, text: str) -> tuple[str, list[str]]:
        found: list[str] = []
        for pattern in _ORDER_PATTERNS:
            for match in pattern.finditer(text):
                value = match.group(1).upper()
                if value not in found:
                    found.append(value)
                text = _blank(text, match.span())
        return text, found

    def _prices(self, text: str, entities: Entities) -> str:
        for pattern in _PRICE_RANGE_PATTERNS:
            match = pattern.search(text)
            if match:
                low, high = sorted((_number(match.group(1)), _number(match.group(2))))
                entities.price_min, entities.price_max = low, high
                return _blank(text, match.span())
        for patterns, attribute in (
            (_PRICE_MAX_PATTERNS, "price_max"),
            (_PRICE_MIN_PATTERNS, "price_min"),
        ):
            for pattern in patterns:
                match = pattern.search(text)
                if match:
                    setattr(entities, attribute, _number(match.group(1)))
                    text = _blank(text, match.span())
                    break
        return text

    def _sizes(self, text: str) -> tuple[str, list[str]]:
        canonical = self._size_names
        found: list[str] = []
        for pattern in _SIZE_PATTERNS:
            for match in pattern.finditer(text):
                raw = match.group(1)
                value = canonical.get(raw.lower(), raw if raw.isdigit() else None)
                if value is None:
                    continue
                if value not in found:
                    found.append(value)
                text = _blank(text, match.span())
        for name in self._size_words.found(text.lower()):
            if name not in found:
                found.append(name)
        return text, found

    def _quantity(self, text: str, language: str) -> int | None:
        patterns = [_EN_X_QUANTITY_RE, _ZH_QUANTITY_RE, _EN_QUANTITY_RE]
        if language == CHINESE:
            patterns = [_ZH_QUANTITY_RE, _EN_X_QUANTITY_RE]
        for pattern in patterns:
            match = pattern.search(text)
            if match:
                value = int(next(group for group in match.groups() if group))
                if value > 0:
                    return value
        return None

    @staticmethod
    def _aliases_found(
        text: str, table: Mapping[str, Sequence[str]], index: _AliasIndex
    ) -> list[str]:
        found = set(index.found(text.lower()))
        # Table order, so callers see colours and categories in a stable order.
        return [name for name in table if name in found]

    def _products(self, text: str, language: str) -> list[ProductMatch]:
        best: dict[int, ProductMatch] = {}
        words = tokenize_english(text)
        for alias, product in self._aliases:
            score = _best_span_score(alias, text, words)
            if score >= self.product_cutoff and (
                product.id not in best or score > best[product.id].score
            ):
                best[product.id] = ProductMatch(product.id, product.name, round(score, 1))
        return sorted(best.values(), key=lambda match: (-match.score, match.product_id))


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def _by_alias(table: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Lowercase alias (the name included) -> name."""
    return {alias.lower(): name for name, aliases in table.items() for alias in (name, *aliases)}


@dataclass(frozen=True)
class _AliasIndex:
    """An alias -> name table, prepared once for the search of every message.

    ``entries`` are ``(alias, name, is_cjk, pattern)``, longest alias first (ties in table
    order); ``pattern`` is :func:`_contains`'s whole-word rule, None for Chinese aliases,
    which match as substrings.
    """

    entries: tuple[tuple[str, str, bool, re.Pattern[str] | None], ...]

    @classmethod
    def of(cls, by_alias: Mapping[str, str]) -> _AliasIndex:
        entries = []
        for alias in sorted(by_alias, key=len, reverse=True):
            if not alias:  # matches nothing (see _contains)
                continue
            is_cjk = _is_cjk(alias)
            pattern = None if is_cjk else _whole_word(alias)
            entries.append((alias, by_alias[alias], is_cjk, pattern))
        return cls(tuple(entries))

    def found(self, text: str) -> list[str]:
        """Names whose aliases occur in ``text``, longest alias first.

        A matched alias is blanked out before shorter ones are tried, so "粉红色" (pink) does
        not also yield "红色" (red) and "加大号" (XL) does not also yield "大号" (L).
        """
        found: list[str] = []
        for alias, name, is_cjk, pattern in self.entries:
            # Either rule needs the alias verbatim in the text: test that first, it is cheap.
            if alias not in text or (pattern is not None and pattern.search(text) is None):
                continue
            if name not in found:
                found.append(name)
            if is_cjk:
                text = text.replace(alias, " " * len(alias))
        return found


def _whole_word(alias: str) -> re.Pattern[str]:
    # Whole words, plural "s"/"es" allowed.
    return re.compile(rf"(?<![a-z0-9]){re.escape(alias)}(?:s|es)?(?![a-z0-9])")


def _contains(text: str, alias: str) -> bool:
    if not alias:
        return False
    if _is_cjk(alias):
        return alias in text
    return _whole_word(alias).search(text) is not None


def _best_span_score(alias: str, text: str, words: list[str]) -> float:
    """Best rapidfuzz ratio of ``alias`` against spans of ``text`` of about its length.

    English aliases are compared with runs of whole words (so "mug" never matches inside
    "smuggle"); Chinese ones with character windows, since Chinese has no spaces.
    """
    if _contains(text, alias):
        return 100.0
    if _is_cjk(alias):
        size = len(alias)
        if size < 2:
            return 0.0
        windows = {text[i : i + n] for n in (size - 1, size, size + 1) for i in range(len(text))}
        return max((fuzz.ratio(alias, w) for w in windows if len(w) >= size - 1), default=0.0)
    # A typo in a three-letter word is a different word ("cap" / "car"): require exact.
    if len(alias) <= 3:
        return 0.0
    alias_words = len(alias.split())
    best = 0.0
    for n in {max(1, alias_words - 1), alias_words, alias_words + 1}:
        for i in range(len(words) - n + 1):
            best = max(best, fuzz.ratio(alias, " ".join(words[i : i + n])))
    return best
