"""Association rules ("frequently bought together") from shopping baskets.

Pure Python + numpy/scipy; no Django. The thresholds are exact: ``min_support`` and
``min_confidence`` are read as the decimals a merchant typed (``Decimal(str(value))``) and
every keep/drop decision compares integer counts, so a rule whose confidence is exactly 4/5
passes ``min_confidence=0.8`` and an itemset in exactly 1 of 200 baskets passes
``min_support=0.005``. Float ratios (as mlxtend uses) can drop or add such ties.

Frequent itemsets are counted with a vertical (Eclat) search over packed bitsets:

* item supports with ``np.bincount``;
* pair supports with sparse products ``X[:, block].T @ X`` of the basket x frequent-item
  matrix (upper triangle, a block of items at a time);
* larger itemsets depth first: the baskets that hold a frequent item ``i`` are projected onto
  a bitset of their own (``count(i)`` bits wide instead of one bit per basket), and each
  extension is counted with a vectorised ``AND`` + ``np.bitwise_count`` over every sibling at
  once, so Python loops once per frequent itemset, never once per candidate.

All counts are integers. On the UCI Online Retail baskets (about 20,000 invoices x 4,000
products, support 0.005: 17,498 itemsets) it takes under half a CPU second and ~130 MB,
about 25 times less time than mlxtend's FP-growth; ``bench/association_rules.py`` measures
it beside mlxtend, pyfim and efficient-apriori.
"""

from __future__ import annotations

import gc
import math
import numbers
from collections.abc import Collection, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from itertools import chain

import numpy as np
from scipy import sparse

__all__ = ["Rule", "association_rules", "frequent_itemsets"]

# Itemsets are tuples of dense item codes in increasing order; codes follow ascending item
# frequency, the usual Eclat order (rare prefixes have small projected databases).
_Codes = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule ``antecedent -> consequent`` with its counts and interest measures.

    ``antecedent`` is a sorted tuple of item ids (``antecedent_set`` gives the frozenset);
    the float measures are computed from the integer counts, each correctly rounded.
    ``conviction`` is ``math.inf`` when ``confidence == 1``.
    """

    antecedent: tuple[Hashable, ...]
    consequent: Hashable
    support: float
    confidence: float
    lift: float
    leverage: float
    conviction: float
    antecedent_count: int
    consequent_count: int
    rule_count: int
    n_baskets: int

    @property
    def antecedent_set(self) -> frozenset:
        return frozenset(self.antecedent)

    @property
    def items(self) -> frozenset:
        """The frequent itemset the rule comes from: antecedent plus consequent."""
        return frozenset(self.antecedent) | {self.consequent}


def frequent_itemsets(
    baskets: Iterable[Iterable[Hashable]],
    *,
    min_support: float | str | Decimal | Fraction,
    max_length: int | None = None,
) -> dict[frozenset, int]:
    """Every itemset held by at least ``min_support`` of the baskets.

    Parameters
    ----------
    baskets : iterable of iterables of hashable item ids
        One basket per transaction; an item repeated in a basket counts once; an empty basket
        still counts as a transaction.
    min_support : float, str, Decimal or Fraction
        In ``(0, 1]``; an itemset is frequent iff ``count / n_baskets >= min_support``,
        decided exactly on integers.
    max_length : int, optional
        Largest itemset size to return (``>= 1``); ``None`` for no limit.

    Returns
    -------
    dict
        ``{frozenset(items): count}`` for every frequent itemset (single items included).
    """
    support = _threshold(min_support, "min_support", allow_zero=False)
    _check_max_length(max_length, minimum=1)
    with _gc_paused():
        mined = _mine(baskets, support, max_length)
        items = mined.items
        return {
            frozenset([items[code] for code in codes]): count
            for codes, count in mined.counts.items()
        }


def association_rules(
    baskets: Iterable[Iterable[Hashable]],
    *,
    min_support: float | str | Decimal | Fraction,
    min_confidence: float | str | Decimal | Fraction,
    max_length: int | None = None,
) -> list[Rule]:
    """All rules ``X -> {y}`` whose itemset ``X | {y}`` is frequent and confident enough.

    Parameters
    ----------
    baskets : iterable of iterables of hashable item ids
        As for :func:`frequent_itemsets`.
    min_support : float, str, Decimal or Fraction
        In ``(0, 1]``: the itemset ``X | {y}`` must satisfy
        ``rule_count / n_baskets >= min_support``.
    min_confidence : float, str, Decimal or Fraction
        In ``[0, 1]``: ``rule_count / antecedent_count >= min_confidence``.
    max_length : int, optional
        Largest ``|X | {y}|`` (``>= 2``); ``None`` for no limit.

    Returns
    -------
    list of Rule
        Sorted by lift, confidence and support (all descending), then antecedent and
        consequent, so equal inputs always give the same list.
    """
    support = _threshold(min_support, "min_support", allow_zero=False)
    confidence = _threshold(min_confidence, "min_confidence", allow_zero=True)
    _check_max_length(max_length, minimum=2)
    with _gc_paused():
        mined = _mine(baskets, support, max_length)
    n, items, counts = mined.n_baskets, mined.items, mined.counts
    num_c, den_c = confidence.numerator, confidence.denominator

    item_counts = [counts[(code,)] for code in range(len(items))]
    rank_of = mined.ranks.__getitem__
    item_at_rank = mined.by_rank.__getitem__
    rules: list[Rule] = []
    lifts: list[float] = []
    confidences: list[float] = []
    supports: list[float] = []
    with _gc_paused():
        for codes, r in counts.items():
            size = len(codes)
            if size < 2:
                continue
            for position in range(size):
                antecedent_codes = codes[:position] + codes[position + 1 :]
                a = counts[antecedent_codes]
                # The confidence test on integers: r / a >= num_c / den_c.
                if r * den_c < num_c * a:
                    continue
                consequent_code = codes[position]
                c = item_counts[consequent_code]
                # Python's int / int is correctly rounded: each measure is the float nearest
                # to its exact rational value, so equal values give equal floats to sort on.
                rule_support, rule_confidence, lift = r / n, r / a, (r * n) / (a * c)
                rules.append(
                    Rule(
                        antecedent=tuple(map(item_at_rank, sorted(map(rank_of, antecedent_codes)))),
                        consequent=items[consequent_code],
                        support=rule_support,
                        confidence=rule_confidence,
                        lift=lift,
                        leverage=(r * n - a * c) / (n * n),
                        conviction=math.inf if r == a else (a * (n - c)) / (n * (a - r)),
                        antecedent_count=a,
                        consequent_count=c,
                        rule_count=r,
                        n_baskets=n,
                    )
                )
                lifts.append(lift)
                confidences.append(rule_confidence)
                supports.append(rule_support)
        return _sorted_rules(rules, lifts, confidences, supports, mined)


def _sorted_rules(
    rules: list[Rule],
    lifts: list[float],
    confidences: list[float],
    supports: list[float],
    mined: _Mined,
) -> list[Rule]:
    """Rules by lift, confidence, support (descending), then antecedent and consequent.

    numpy sorts on the three measures; only runs that tie on all three (rare) are sorted in
    Python by the items' ranks, which also order ids of types that do not compare.
    """
    if not rules:
        return rules
    measures = [np.negative(np.asarray(values)) for values in (supports, confidences, lifts)]
    order = np.lexsort(measures)  # the last key is the primary one
    ordered = [rules[i] for i in order.tolist()]
    sorted_measures = np.stack([values[order] for values in measures])
    same = np.all(sorted_measures[:, 1:] == sorted_measures[:, :-1], axis=0)
    if not same.any():
        return ordered
    rank_of_item = dict(zip(mined.by_rank, range(len(mined.by_rank)), strict=True))

    def tie_key(rule: Rule) -> tuple:
        antecedent_ranks = tuple(rank_of_item[item] for item in rule.antecedent)
        return antecedent_ranks, rank_of_item[rule.consequent]

    for start, stop in _runs_of_true(same):
        ordered[start:stop] = sorted(ordered[start:stop], key=tie_key)
    return ordered


def _runs_of_true(same: np.ndarray) -> list[tuple[int, int]]:
    """Slices of items tied with their neighbours: ``same[i]`` says item i+1 ties item i."""
    padded = np.concatenate(([False], same, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, stops = edges[::2], edges[1::2]
    return [(start, stop + 1) for start, stop in zip(starts.tolist(), stops.tolist(), strict=True)]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building millions of itemset tuples and Rule objects.

    Each allocation burst would trigger full collections again and again (a third of the time
    on large rule sets), and none of these objects can form a cycle.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- thresholds and validation -------------------------------------------------------------


def _threshold(value: float | str | Decimal | Fraction, name: str, *, allow_zero: bool) -> Fraction:
    """``value`` as the exact fraction of the decimal it prints as, checked to lie in range.

    ``Decimal(str(0.8))`` is ``Decimal("0.8")``: the number the user typed, not the binary
    float nearest to it.
    """
    if isinstance(value, Fraction):
        fraction = value
    else:
        if isinstance(value, bool) or not isinstance(value, numbers.Real | str | Decimal):
            raise ValueError(f"{name} must be a number or a decimal string, got {value!r}")
        try:
            decimal = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(
                f"{name} must be a number or a decimal string, got {value!r}"
            ) from None
        if not decimal.is_finite():
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        fraction = Fraction(decimal)
    low_ok = fraction >= 0 if allow_zero else fraction > 0
    if not (low_ok and fraction <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return fraction


def _check_max_length(max_length: int | None, *, minimum: int) -> None:
    if max_length is None:
        return
    if isinstance(max_length, bool) or not isinstance(max_length, int | np.integer):
        raise ValueError(f"max_length must be an integer >= {minimum} or None, got {max_length!r}")
    if max_length < minimum:
        raise ValueError(f"max_length must be >= {minimum} or None, got {max_length!r}")


def _min_count(support: Fraction, n_baskets: int) -> int:
    """Smallest count with ``count * den >= num * n_baskets`` (at least 1)."""
    return max(1, -(-support.numerator * n_baskets // support.denominator))


# --- mining --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mined:
    n_baskets: int
    items: list[Hashable]  # code -> item id; codes are the frequent items by ascending count
    ranks: list[int]  # code -> position of the item in sorted order, for deterministic ties
    by_rank: list[Hashable]  # rank -> item id
    counts: dict[_Codes, int]  # frequent itemset (increasing codes) -> basket count


def _mine(
    baskets: Iterable[Iterable[Hashable]], support: Fraction, max_length: int | None
) -> _Mined:
    rows, cols, seen, n = _encode(baskets)
    seen_counts = np.bincount(cols, minlength=len(seen))

    min_count = _min_count(support, n)
    frequent = np.flatnonzero(seen_counts >= min_count)
    # Ascending count (ties by first appearance): deterministic, and the classic Eclat order
    # that keeps the projected databases of long prefixes small.
    frequent = frequent[np.argsort(seen_counts[frequent], kind="stable")]
    m = len(frequent)
    items = [seen[i] for i in frequent.tolist()]
    item_counts = seen_counts[frequent].tolist()
    by_rank_codes = _ordered(items)
    ranks = [0] * m
    for rank, code in enumerate(by_rank_codes):
        ranks[code] = rank
    counts: dict[_Codes, int] = {(code,): count for code, count in enumerate(item_counts)}
    mined = _Mined(n, items, ranks, [items[code] for code in by_rank_codes], counts)
    if m < 2 or max_length == 1:
        return mined

    # Keep the frequent items only (Apriori: no superset of an infrequent item is frequent),
    # renumbered 0..m-1.
    new_code = np.full(len(seen), -1, dtype=np.int64)
    new_code[frequent] = np.arange(m)
    codes = new_code[cols]
    keep = codes >= 0
    rows, codes = rows[keep], codes[keep]
    by_item = np.lexsort((rows, codes))  # by item, then basket
    rows, codes = rows[by_item], codes[by_item]
    item_starts = np.searchsorted(codes, np.arange(m + 1))
    matrix = sparse.csc_matrix(
        (np.ones(len(rows), dtype=np.int32), rows, item_starts), shape=(n, m)
    )
    # Item x basket bitsets (m * n / 8 bytes), only needed for itemsets beyond pairs.
    bitsets = _bitsets(rows, codes, m, n) if max_length is None or max_length > 2 else None

    # Pair counts come from sparse products X[:, block].T @ X[:, block_start:], a block of
    # items at a time: the (dense-ish) result stays small however many items are frequent,
    # and later blocks skip the lower triangle (about 45% of the work in 8 blocks).
    block = max(1, min(-(-m // 8), _PAIR_BLOCK_ENTRIES // m))
    one = np.uint64(1)
    for block_start in range(0, m - 1, block):
        block_stop = min(block_start + block, m)
        pairs = (matrix[:, block_start:block_stop].T @ matrix[:, block_start:]).tocoo()
        firsts, seconds = pairs.row + block_start, pairs.col + block_start
        keep = (pairs.data >= min_count) & (seconds > firsts)
        firsts, seconds, pair_counts = firsts[keep], seconds[keep], pairs.data[keep]
        # Sorted by first then second item: itemset tuples stay increasing, and each first
        # item's extensions are one run.
        order = np.lexsort((seconds, firsts))
        firsts, seconds, pair_counts = firsts[order], seconds[order], pair_counts[order]
        counts.update(
            zip(
                zip(firsts.tolist(), seconds.tolist(), strict=True),
                pair_counts.tolist(),
                strict=True,
            )
        )
        if bitsets is None or len(firsts) == 0:
            continue
        for start, stop in _runs(firsts):
            first, extensions = int(firsts[start]), seconds[start:stop].astype(np.int64)
            # Project the extensions onto the baskets holding `first`: one bit per holder, so
            # deeper AND/popcounts run over count(first) bits instead of n.
            holders = rows[item_starts[first] : item_starts[first + 1]]
            words = bitsets[np.ix_(extensions, holders >> 6)]
            projected = np.zeros((len(extensions), -(-len(holders) // 64) * 64), dtype=bool)
            projected[:, : len(holders)] = (words >> (holders & 63).astype(np.uint64)) & one
            packed = np.packbits(projected, axis=1).view(np.uint64)
            _extend((first,), extensions, packed, min_count, max_length, counts)
    return mined


# Entries in one block of the pair-count product (int32 data + int32 index: ~32 MB).
_PAIR_BLOCK_ENTRIES = 4_000_000


def _bitsets(rows: np.ndarray, codes: np.ndarray, m: int, n: int) -> np.ndarray:
    """Item x basket membership as uint64 words (bit ``b % 64`` of word ``b // 64``).

    ``rows``/``codes`` must be sorted by code, then row, so equal words are adjacent.
    """
    n_words = -(-n // 64)
    bitsets = np.zeros((m, n_words), dtype=np.uint64)
    if len(rows) == 0:
        return bitsets
    word_keys = codes * n_words + (rows >> 6)
    bits = np.left_shift(np.uint64(1), (rows & 63).astype(np.uint64))
    starts = np.flatnonzero(np.concatenate(([True], word_keys[1:] != word_keys[:-1])))
    bitsets.ravel()[word_keys[starts]] = np.bitwise_or.reduceat(bits, starts)
    return bitsets


def _encode(baskets: Iterable[Iterable[Hashable]]) -> tuple[np.ndarray, np.ndarray, list, int]:
    """(basket, item code) pairs, each once, sorted; items numbered in order of appearance.

    The per-item work runs in C (chain, dict.fromkeys, map, np.sort), not in a Python loop.
    """
    collected = list(baskets)
    if not _SIZED_BASKETS.issuperset(map(type, collected)):
        collected = [_collection(basket) for basket in collected]
    n = len(collected)
    flat = list(chain.from_iterable(collected))
    seen = list(dict.fromkeys(flat))
    index = {item: code for code, item in enumerate(seen)}
    cols = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
    lengths = np.fromiter(map(len, collected), dtype=np.int64, count=n)
    del collected, flat
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    # A repeated item in a basket counts once: keep each (basket, item) pair once.
    width = max(len(seen), 1)
    pairs = np.sort(rows * width + cols)
    pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))] if len(pairs) else pairs
    return pairs // width, pairs % width, seen, n


_SIZED_BASKETS = frozenset({list, tuple, set, frozenset})


def _collection(basket: Iterable[Hashable]) -> Collection[Hashable]:
    if isinstance(basket, list | tuple | set | frozenset):
        return basket
    if isinstance(basket, str | bytes):
        # A string is iterable, but its characters are almost never the intended items.
        raise TypeError(f"a basket must be an iterable of items, not {type(basket).__name__}")
    return list(basket)


def _ordered(items: Sequence[Hashable]) -> list[int]:
    """Indices of ``items`` in their natural sorted order (by type and repr if unorderable)."""
    positions = range(len(items))
    try:
        return sorted(positions, key=lambda i: items[i])  # type: ignore[arg-type,return-value]
    except TypeError:
        return sorted(positions, key=lambda i: (type(items[i]).__qualname__, repr(items[i])))


def _extend(
    prefix: _Codes,
    codes: np.ndarray,
    bitsets: np.ndarray,
    min_count: int,
    max_length: int | None,
    counts: dict[_Codes, int],
) -> None:
    """Depth-first Eclat step: each ``prefix + (codes[k],)`` is frequent with tidset
    ``bitsets[k]``; count every ``prefix + (codes[k], codes[j])``, ``k < j``, in one go."""
    pair_counts = _pair_counts(bitsets)
    heads, tails = np.nonzero(pair_counts >= min_count)  # row-major: sorted by head, tail
    upper = tails > heads
    if not upper.any():
        return
    heads, tails = heads[upper], tails[upper]
    code_list = codes.tolist()
    head_list, tail_list = heads.tolist(), tails.tolist()
    found = pair_counts[heads, tails].tolist()
    for head, tail, count in zip(head_list, tail_list, found, strict=True):
        counts[(*prefix, code_list[head], code_list[tail])] = count
    if max_length is not None and len(prefix) + 3 > max_length:
        return
    for start, stop in _runs(heads):
        head, tails_of_head = head_list[start], tails[start:stop]
        _extend(
            (*prefix, code_list[head]),
            codes[tails_of_head],
            bitsets[head] & bitsets[tails_of_head],
            min_count,
            max_length,
            counts,
        )


# Words ANDed at once when counting pairs of bitsets (8 MB of uint64).
_PAIR_CHUNK_WORDS = 1 << 20


def _pair_counts(bitsets: np.ndarray) -> np.ndarray:
    """``out[k, j] = popcount(bitsets[k] & bitsets[j])``, valid for ``k < j`` only (the rest is
    left over from the chunks). Rows go in chunks, each against the columns after its first
    row, so the ``AND`` temporary stays under ``_PAIR_CHUNK_WORDS`` words."""
    f, n_words = bitsets.shape
    out = np.zeros((f, f), dtype=np.int64)
    step = max(1, _PAIR_CHUNK_WORDS // max(f * n_words, 1))
    for start in range(0, f - 1, step):
        stop = min(start + step, f - 1)
        joined = bitsets[start:stop, None, :] & bitsets[None, start + 1 :, :]
        out[start:stop, start + 1 :] = np.add.reduce(np.bitwise_count(joined), axis=2)
    return out


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of equal values in a sorted array, runs of 2+ only."""
    edges = [0, *(np.flatnonzero(values[1:] != values[:-1]) + 1).tolist(), len(values)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a >= 2]
