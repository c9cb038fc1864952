"""The association-rules engine against a brute-force count of every itemset."""

import math
import random
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest

from mining.engine import association
from mining.engine.association import Rule, association_rules, frequent_itemsets

# --- the definition, spelled out with Fractions over every itemset ---------------------------


def _brute_counts(baskets):
    sets = [set(basket) for basket in baskets]
    universe = sorted(set().union(*sets))
    return {
        frozenset(itemset): sum(1 for basket in sets if basket.issuperset(itemset))
        for size in range(1, len(universe) + 1)
        for itemset in combinations(universe, size)
    }


def _brute_frequent(baskets, min_support, max_length=None):
    n = len(baskets)
    support = Fraction(Decimal(str(min_support)))
    return {
        itemset: count
        for itemset, count in _brute_counts(baskets).items()
        if n
        and Fraction(count, n) >= support
        and (max_length is None or len(itemset) <= max_length)
    }


def _brute_rules(baskets, min_support, min_confidence, max_length=None):
    n = len(baskets)
    frequent = _brute_frequent(baskets, min_support, max_length)
    confidence_threshold = Fraction(Decimal(str(min_confidence)))
    keyed = []
    for itemset, rule_count in frequent.items():
        for consequent in itemset if len(itemset) >= 2 else ():
            antecedent = itemset - {consequent}
            a, c, r = frequent[antecedent], frequent[frozenset([consequent])], rule_count
            confidence = Fraction(r, a)
            if confidence < confidence_threshold:
                continue
            support, consequent_support = Fraction(r, n), Fraction(c, n)
            lift = confidence / consequent_support
            conviction = (
                math.inf if confidence == 1 else (1 - consequent_support) / (1 - confidence)
            )
            rule = Rule(
                antecedent=tuple(sorted(antecedent)),
                consequent=consequent,
                support=float(support),
                confidence=float(confidence),
                lift=float(lift),
                leverage=float(support - Fraction(a, n) * consequent_support),
                conviction=float(conviction),
                antecedent_count=a,
                consequent_count=c,
                rule_count=r,
                n_baskets=n,
            )
            key = (-lift, -confidence, -support, rule.antecedent, consequent)
            keyed.append((key, rule))
    keyed.sort(key=lambda pair: pair[0])
    return [rule for _, rule in keyed]


def _random_baskets(seed, *, n_items=7, max_baskets=40):
    rng = random.Random(seed)
    n_baskets = rng.randint(0, max_baskets)
    # Skewed item popularity so some itemsets of size 4-5 become frequent.
    weights = [rng.random() ** 2 for _ in range(n_items)]
    baskets = []
    for _ in range(n_baskets):
        size = rng.randint(0, n_items)
        basket = rng.choices(range(n_items), weights=weights, k=size)  # with repeats
        baskets.append(basket)
    return baskets


SEEDS = range(40)


# --- exactness against brute force -----------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("min_support", [0.05, 0.1, "0.2", 0.25, 0.5, 1])
def test_frequent_itemsets_equal_brute_force(seed, min_support):
    baskets = _random_baskets(seed)

    found = frequent_itemsets(baskets, min_support=min_support)

    assert found == _brute_frequent(baskets, min_support)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("min_support", "min_confidence", "max_length"),
    [
        (0.1, 0.5, None),
        (0.05, 0, None),
        ("0.2", "0.8", None),
        (0.1, 0.6, 2),
        (0.05, Decimal("0.25"), 3),
        (0.3, 1, None),
    ],
)
def test_association_rules_equal_brute_force(seed, min_support, min_confidence, max_length):
    baskets = _random_baskets(seed)

    rules = association_rules(
        baskets, min_support=min_support, min_confidence=min_confidence, max_length=max_length
    )

    assert rules == _brute_rules(baskets, min_support, min_confidence, max_length)


@pytest.mark.parametrize("seed", range(5))
def test_many_items_and_baskets_equal_brute_force(seed):
    # given more items and baskets, so the projected bitsets span several 64-bit words
    baskets = _random_baskets(1000 + seed, n_items=10, max_baskets=300)

    rules = association_rules(baskets, min_support=0.02, min_confidence=0.3)

    assert rules == _brute_rules(baskets, 0.02, 0.3)
    assert frequent_itemsets(baskets, min_support=0.02) == _brute_frequent(baskets, 0.02)


@pytest.mark.parametrize("seed", range(5))
def test_tiny_blocks_and_chunks_give_the_same_result(seed, monkeypatch):
    # given pair products of one item row at a time and one bitset row per AND chunk, the
    # paths that a large catalogue takes
    baskets = _random_baskets(2000 + seed, n_items=9, max_baskets=150)
    monkeypatch.setattr(association, "_PAIR_BLOCK_ENTRIES", 1)
    monkeypatch.setattr(association, "_PAIR_CHUNK_WORDS", 1)

    rules = association_rules(baskets, min_support=0.03, min_confidence=0.2)

    assert rules == _brute_rules(baskets, 0.03, 0.2)


# --- ties at the thresholds ------------------------------------------------------------------


@pytest.mark.parametrize(
    "min_confidence", [0.8, "0.8", Decimal("0.8"), Fraction(4, 5), np.float32(0.8)]
)
def test_confidence_exactly_at_threshold_passes(min_confidence):
    # given a -> b with confidence 4/5 in 6 baskets: the float ratio of supports
    # (4/6) / (5/6) is 0.7999999999999999, which a float implementation drops
    baskets = [["a", "b"]] * 4 + [["a"], ["c"]]
    assert (4 / 6) / (5 / 6) < 0.8

    rules = association_rules(baskets, min_support=0.1, min_confidence=min_confidence)

    assert [(rule.antecedent, rule.consequent) for rule in rules] == [(("b",), "a"), (("a",), "b")]
    assert (rules[1].rule_count, rules[1].antecedent_count) == (4, 5)


@pytest.mark.parametrize("min_confidence", [0.81, "0.8000001", Decimal("0.80000000000000001")])
def test_confidence_just_above_the_tie_fails(min_confidence):
    baskets = [["a", "b"]] * 4 + [["a"], ["c"]]

    rules = association_rules(baskets, min_support=0.1, min_confidence=min_confidence)

    assert [(rule.antecedent, rule.consequent) for rule in rules] == [(("b",), "a")]


@pytest.mark.parametrize("min_support", [0.005, "0.005", Decimal("0.005")])
def test_support_exactly_one_in_two_hundred_passes(min_support):
    # given {x, y} in exactly 1 of 200 baskets
    baskets = [["x", "y"]] + [["z"]] * 199

    found = frequent_itemsets(baskets, min_support=min_support)
    rules = association_rules(baskets, min_support=min_support, min_confidence=1)

    assert found == {
        frozenset({"x"}): 1,
        frozenset({"y"}): 1,
        frozenset({"x", "y"}): 1,
        frozenset({"z"}): 199,
    }
    assert [(rule.antecedent, rule.consequent, rule.support) for rule in rules] == [
        (("x",), "y", 0.005),
        (("y",), "x", 0.005),
    ]


@pytest.mark.parametrize(
    "min_support", [0.07, "0.07", Decimal("0.07"), Fraction(7, 100), np.float64(0.07)]
)
def test_support_tie_where_float_product_overshoots(min_support):
    # given 7 of 100 baskets: 0.07 * 100 == 7.000000000000001 in floats, so a
    # "count >= min_support * n" test would drop an itemset that is exactly at the threshold
    baskets = [["a", "b"]] * 7 + [["c"]] * 93
    assert 0.07 * 100 > 7

    found = frequent_itemsets(baskets, min_support=min_support)

    assert found[frozenset({"a", "b"})] == 7


def test_support_one_basket_below_the_threshold_fails():
    baskets = [["x", "y"]] + [["z"]] * 200  # 1 / 201 < 0.005

    assert frequent_itemsets(baskets, min_support=0.005) == {frozenset({"z"}): 200}


# --- input handling --------------------------------------------------------------------------


def test_duplicates_in_a_basket_count_once():
    with_duplicates = [["a", "a", "b"], ["b", "b"], ["a", "b", "b", "a"]]
    without = [["a", "b"], ["b"], ["a", "b"]]

    assert frequent_itemsets(with_duplicates, min_support=0.1) == {
        frozenset({"a"}): 2,
        frozenset({"b"}): 3,
        frozenset({"a", "b"}): 2,
    }
    assert association_rules(with_duplicates, min_support=0.1, min_confidence=0) == (
        association_rules(without, min_support=0.1, min_confidence=0)
    )


def test_empty_input_gives_nothing():
    assert frequent_itemsets([], min_support=0.5) == {}
    assert association_rules([], min_support=0.5, min_confidence=0.5) == []
    assert association_rules(iter([]), min_support=0.5, min_confidence=0.5) == []


def test_empty_baskets_count_as_transactions():
    baskets = [["a", "b"], [], [], []]

    assert frequent_itemsets(baskets, min_support=0.25) == {
        frozenset({"a"}): 1,
        frozenset({"b"}): 1,
        frozenset({"a", "b"}): 1,
    }
    assert frequent_itemsets(baskets, min_support=0.26) == {}
    assert frequent_itemsets([[], []], min_support=0.5) == {}
    assert association_rules(baskets, min_support=0.25, min_confidence=1)[0].support == 0.25


def test_baskets_may_be_a_generator_of_sets_and_tuples():
    baskets = ({"a", "b"} if i % 2 else ("a", "c") for i in range(10))

    assert frequent_itemsets(baskets, min_support=0.5) == {
        frozenset({"a"}): 10,
        frozenset({"b"}): 5,
        frozenset({"c"}): 5,
        frozenset({"a", "b"}): 5,
        frozenset({"a", "c"}): 5,
    }


def test_a_string_basket_is_refused():
    with pytest.raises(TypeError, match="not str"):
        frequent_itemsets(["ab", "bc"], min_support=0.5)


def test_mixed_item_types_give_a_deterministic_order():
    baskets = [[1, "1"], [1, "1"], [2]]

    first = association_rules(baskets, min_support=0.5, min_confidence=0)
    second = association_rules(list(reversed(baskets)), min_support=0.5, min_confidence=0)

    assert first == second
    assert [(rule.antecedent, rule.consequent) for rule in first] == [((1,), "1"), (("1",), 1)]


def test_result_does_not_depend_on_basket_or_item_order():
    baskets = _random_baskets(7)
    shuffled = [list(reversed(basket)) for basket in reversed(baskets)]

    assert association_rules(baskets, min_support=0.1, min_confidence=0.2) == (
        association_rules(shuffled, min_support=0.1, min_confidence=0.2)
    )


def test_max_length_limits_the_itemset_size():
    baskets = [["a", "b", "c"]] * 3

    assert frequent_itemsets(baskets, min_support=1, max_length=1) == {
        frozenset({item}): 3 for item in "abc"
    }
    assert {
        len(rule.items)
        for rule in association_rules(baskets, min_support=1, min_confidence=1, max_length=2)
    } == {2}
    assert len(association_rules(baskets, min_support=1, min_confidence=1, max_length=2)) == 6
    assert len(association_rules(baskets, min_support=1, min_confidence=1)) == 9  # 6 + 3


# --- metrics on a hand example ---------------------------------------------------------------


def test_metrics_on_a_hand_example():
    # given 10 baskets: a in 5, b in 4, {a, b} in 4, c in 1 (below support)
    baskets = [["a", "b"]] * 4 + [["a"], ["c"]] + [[]] * 4

    rules = association_rules(baskets, min_support=0.2, min_confidence=0.5)

    assert rules == [
        Rule(
            antecedent=("b",),
            consequent="a",
            support=0.4,
            confidence=1.0,
            lift=2.0,  # 1.0 / 0.5
            leverage=0.2,  # 0.4 - 0.4 * 0.5
            conviction=math.inf,  # confidence 1
            antecedent_count=4,
            consequent_count=5,
            rule_count=4,
            n_baskets=10,
        ),
        Rule(
            antecedent=("a",),
            consequent="b",
            support=0.4,
            confidence=0.8,
            lift=2.0,  # 0.8 / 0.4
            leverage=0.2,  # 0.4 - 0.5 * 0.4
            conviction=3.0,  # (1 - 0.4) / (1 - 0.8)
            antecedent_count=5,
            consequent_count=4,
            rule_count=4,
            n_baskets=10,
        ),
    ]
    assert rules[0].antecedent_set == frozenset({"b"})
    assert rules[0].items == frozenset({"a", "b"})


def test_rules_sort_by_lift_then_confidence_then_support():
    baskets = _random_baskets(3, n_items=8, max_baskets=60)

    rules = association_rules(baskets, min_support=0.05, min_confidence=0.1)

    keys = [(-r.lift, -r.confidence, -r.support, r.antecedent, r.consequent) for r in rules]
    assert len(rules) > 20
    assert keys == sorted(keys)


# --- argument validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "min_support", [0, "0", -0.1, 1.5, "abc", float("nan"), float("inf"), True, None]
)
def test_invalid_min_support_is_refused(min_support):
    with pytest.raises(ValueError, match="min_support"):
        association_rules([["a"]], min_support=min_support, min_confidence=0.5)
    with pytest.raises(ValueError, match="min_support"):
        frequent_itemsets([["a"]], min_support=min_support)


@pytest.mark.parametrize("min_confidence", [-0.1, 1.01, "", "NaN", False])
def test_invalid_min_confidence_is_refused(min_confidence):
    with pytest.raises(ValueError, match="min_confidence"):
        association_rules([["a"]], min_support=0.5, min_confidence=min_confidence)


@pytest.mark.parametrize("max_length", [1, 0, -3, 2.5, "3", True])
def test_invalid_max_length_is_refused(max_length):
    with pytest.raises(ValueError, match="max_length"):
        association_rules([["a"]], min_support=0.5, min_confidence=0.5, max_length=max_length)


def test_boundary_thresholds_are_accepted():
    baskets = [["a", "b"], ["a"]]

    assert association_rules(baskets, min_support=1, min_confidence=0) == []
    assert len(association_rules(baskets, min_support="0.5", min_confidence="0")) == 2
    assert frequent_itemsets(baskets, min_support=" 1 ", max_length=1) == {frozenset({"a"}): 2}


def test_engine_imports_no_django():
    code = (
        "import sys, mining.engine.association; "
        "sys.exit(any(name.split('.')[0] == 'django' for name in sys.modules))"
    )

    result = subprocess.run([sys.executable, "-c", code], check=False)

    assert result.returncode == 0
