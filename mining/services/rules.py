"""Training association rules through the model registry.

``rules_trainer()`` registers kind ``rules``: read the sale baskets, mine them with the exact
engine (``mining.engine.association``), write the rules to an ``.npz`` artifact, store them as
rows of the new version, and let the gate decide promotion.

Guards against a rule explosion, which is the one way this training hurts a shop (memory and
time grow with the number of frequent itemsets, not with the data):

* ``min_support`` has a floor (:data:`MIN_SUPPORT_FLOOR`) and ``max_length`` a ceiling;
* before mining itemsets longer than pairs, the frequent pairs are counted (cheap: one sparse
  product); more than :data:`FREQUENT_PAIR_LIMIT` of them refuses the params, because triples
  then grow into the millions (Online Retail at support 0.001: 347,481 pairs; on its raw
  invoices that support mined 6.3 million itemsets and 14 million rules in 9.6 GB; at 0.002,
  92,483 pairs, it is 470,000 itemsets, under 1 GB and 10 s);
* at most ``max_rules`` rules (the best by lift) are stored; ``n_rules_mined`` and
  ``rules_capped`` in the metrics record when the cap cut.

The gate: a version is promoted when it has at least one rule and the mean lift of its
:data:`GATE_TOP_RULES` best rules is not more than :data:`GATE_TOLERANCE` (relative) below the
active version's. Lift is what makes a rule worth showing (how much likelier the pair is than
chance); the mean over a fixed top-N does not reward a version merely for holding more rules,
and a relative tolerance suits lifts whose scale differs a lot between shops (about 40 on
Online Retail, about 10 on the demo shop).
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction

from mining.engine.association import Rule, association_rules, frequent_itemsets
from mining.models import AssociationRule, RuleAntecedentItem
from mining.selectors import rules as selectors
from shopops.registry.models import ModelVersion
from shopops.registry.services import (
    GateDecision,
    Trainer,
    TrainingDataError,
    TrainingResult,
    model_version_artifact_verify,
    model_version_training_into,
)
from shopops.store.models import Product

RULES_KIND = selectors.RULES_KIND

#: Chosen on two data sets. The demo shop (600 customers, 5,387 baskets) plants 43 bundles:
#: support 0.005 finds all 43 (84 rules, every one with lift >= 14), 0.01 only 17. On UCI
#: Online Retail as imported (19,773 baskets, 3,798 products) 0.005 gives 16,082 rules (top-100
#: mean lift 80) with 0.6 s of mining; 0.01 gives 1,536 and 0.003 already 164,955.
DEFAULT_PARAMS: dict[str, Any] = {
    "min_support": 0.005,
    "min_confidence": 0.3,
    "max_length": 3,
    "max_rules": 50_000,
}
MIN_SUPPORT_FLOOR = Decimal("0.001")
MAX_LENGTH_LIMIT = 4
MAX_RULES_LIMIT = 200_000
MIN_BASKETS = 10
FREQUENT_PAIR_LIMIT = 100_000
GATE_TOP_RULES = 100
GATE_TOLERANCE = 0.10
#: Newest versions whose rules stay in the database besides the active one; older versions
#: keep only their artifact, from which promoting them (a rollback) restores the rows.
KEEP_VERSIONS_WITH_ROWS = 3
ARTIFACT_FILE = "rules.npz"

_BATCH = 2_000


# --- parameters -----------------------------------------------------------------------------------


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise TrainingDataError(f"{name} must be a number, got {value!r}.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise TrainingDataError(f"{name} must be a number, got {value!r}.") from None
    if not number.is_finite():
        raise TrainingDataError(f"{name} must be a finite number, got {value!r}.")
    return number


def _whole(value: Any, name: str, low: int, high: int) -> int:
    number = _decimal(value, name)
    if number != number.to_integral_value() or not low <= number <= high:
        raise TrainingDataError(
            f"{name} must be a whole number from {low} to {high}, got {value!r}."
        )
    return int(number)


def rules_params_clean(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` (numbers or strings) over the defaults, checked; raises TrainingDataError.

    Thresholds stay the decimals the merchant typed (stored as floats, which print back the
    same), so the engine decides them exactly.
    """
    merged = {**DEFAULT_PARAMS, **{k: v for k, v in params.items() if v is not None}}
    unknown = sorted(set(merged) - set(DEFAULT_PARAMS))
    if unknown:
        raise TrainingDataError(f"Unknown rules parameter(s): {', '.join(unknown)}.")
    support = _decimal(merged["min_support"], "min_support")
    if not MIN_SUPPORT_FLOOR <= support <= 1:
        raise TrainingDataError(
            f"min_support must be from {MIN_SUPPORT_FLOOR} to 1, got {merged['min_support']!r}: "
            "a lower support mines millions of rules that hold for a handful of baskets."
        )
    confidence = _decimal(merged["min_confidence"], "min_confidence")
    if not 0 <= confidence <= 1:
        raise TrainingDataError(
            f"min_confidence must be from 0 to 1, got {merged['min_confidence']!r}."
        )
    return {
        "min_support": float(support),
        "min_confidence": float(confidence),
        "max_length": _whole(merged["max_length"], "max_length", 2, MAX_LENGTH_LIMIT),
        "max_rules": _whole(merged["max_rules"], "max_rules", 1, MAX_RULES_LIMIT),
    }


# --- training -------------------------------------------------------------------------------------


def _version_in_training(artifact_dir: Path) -> ModelVersion:
    return model_version_training_into(kind=RULES_KIND, artifact_dir=artifact_dir)


def _explosion_check(baskets: list[set[int]], params: dict[str, Any]) -> None:
    if params["max_length"] <= 2:
        return
    pairs = frequent_itemsets(baskets, min_support=params["min_support"], max_length=2)
    n_pairs = sum(1 for itemset in pairs if len(itemset) == 2)
    if n_pairs > FREQUENT_PAIR_LIMIT:
        raise TrainingDataError(
            f"min_support {params['min_support']} leaves {n_pairs:,} frequent pairs in "
            f"{len(baskets):,} baskets; longer itemsets would run into the millions. "
            "Raise min_support or set max_length to 2."
        )


def _top_mean(rules: list[Rule], attribute: str) -> float | None:
    top = rules[:GATE_TOP_RULES]
    return sum(getattr(rule, attribute) for rule in top) / len(top) if top else None


def rules_train(*, params: dict[str, Any], artifact_dir: Path, progress) -> TrainingResult:
    """Mine the sale baskets, write ``rules.npz`` and store the rules of the training version.

    Re-running a version (a retried task) replaces its rows: nothing is stored twice.
    """
    started = time.monotonic()
    clean = rules_params_clean(params)
    version = _version_in_training(artifact_dir)
    progress(0.05, "reading baskets")
    data = selectors.basket_list()
    baskets = data.baskets
    if len(baskets) < MIN_BASKETS:
        raise TrainingDataError(
            f"Only {len(baskets)} sale orders to learn from; association rules need at least "
            f"{MIN_BASKETS}."
        )
    selected = time.monotonic()
    progress(0.2, "counting frequent pairs")
    _explosion_check(baskets, clean)
    progress(0.3, "mining frequent itemsets")
    support, confidence, max_length = (
        clean["min_support"],
        clean["min_confidence"],
        clean["max_length"],
    )
    n_itemsets = len(frequent_itemsets(baskets, min_support=support, max_length=max_length))
    progress(0.5, "deriving rules")
    mined = association_rules(
        baskets, min_support=support, min_confidence=confidence, max_length=max_length
    )
    kept = mined[: clean["max_rules"]]
    mined_at = time.monotonic()
    progress(0.7, "writing the artifact")
    _artifact_write(artifact_dir / ARTIFACT_FILE, kept, n_baskets=len(baskets))
    progress(0.8, f"storing {len(kept):,} rules")
    rules_store(version=version, rules=kept)
    rules_prune(keep_version_id=version.id)
    metrics = {
        "n_baskets": len(baskets),
        "n_items": data.n_items,
        "n_frequent_itemsets": n_itemsets,
        "n_rules_mined": len(mined),
        "n_rules": len(kept),
        "rules_capped": len(kept) < len(mined),
        "top_lift_mean": _top_mean(kept, "lift"),
        "top_confidence_mean": _top_mean(kept, "confidence"),
        "top_support_mean": _top_mean(kept, "support"),
        "max_lift": kept[0].lift if kept else None,
        "seconds_select": round(selected - started, 3),
        "seconds_mine": round(mined_at - selected, 3),
        "seconds": round(time.monotonic() - started, 3),
    }
    return TrainingResult(
        metrics=metrics,
        data_window_start=data.window_start,
        data_window_end=data.window_end,
        params=clean,
    )


def _artifact_write(path: Path, rules: list[Rule], *, n_baskets: int) -> None:
    """Rules as plain arrays: antecedents padded with -1, conviction ``inf`` kept."""
    width = max((len(rule.antecedent) for rule in rules), default=1)
    antecedents = np.full((len(rules), width), -1, dtype=np.int64)
    for row, rule in enumerate(rules):
        antecedents[row, : len(rule.antecedent)] = rule.antecedent

    def column(name: str, dtype) -> np.ndarray:
        return np.fromiter((getattr(rule, name) for rule in rules), dtype=dtype, count=len(rules))

    np.savez_compressed(
        path,
        antecedents=antecedents,
        consequents=column("consequent", np.int64),
        support=column("support", np.float64),
        confidence=column("confidence", np.float64),
        lift=column("lift", np.float64),
        leverage=column("leverage", np.float64),
        conviction=column("conviction", np.float64),
        antecedent_count=column("antecedent_count", np.int64),
        consequent_count=column("consequent_count", np.int64),
        rule_count=column("rule_count", np.int64),
        n_baskets=np.int64(n_baskets),
    )


def rules_artifact_load(*, version: ModelVersion) -> list[Rule]:
    """The rules of ``version`` from its verified artifact, in stored (rank) order."""
    directory = model_version_artifact_verify(version=version)
    with np.load(directory / ARTIFACT_FILE, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    n = int(arrays["n_baskets"])
    rules = []
    for row in range(len(arrays["consequents"])):
        antecedent = tuple(int(x) for x in arrays["antecedents"][row] if x >= 0)
        rules.append(
            Rule(
                antecedent=antecedent,
                consequent=int(arrays["consequents"][row]),
                support=float(arrays["support"][row]),
                confidence=float(arrays["confidence"][row]),
                lift=float(arrays["lift"][row]),
                leverage=float(arrays["leverage"][row]),
                conviction=float(arrays["conviction"][row]),
                antecedent_count=int(arrays["antecedent_count"][row]),
                consequent_count=int(arrays["consequent_count"][row]),
                rule_count=int(arrays["rule_count"][row]),
                n_baskets=n,
            )
        )
    return rules


def _product_names(ids: set[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 10_000):  # under every database's parameter limit
        chunk = ordered[start : start + 10_000]
        names.update(Product.objects.filter(id__in=chunk).values_list("id", "name"))
    return names


def rules_store(*, version: ModelVersion, rules: list[Rule]) -> int:
    """Replace the rule rows of ``version`` with ``rules`` (rank = list position), atomically.

    Rules naming a product that no longer exists are skipped. Returns the number stored.
    """
    names = _product_names({item for rule in rules for item in (*rule.antecedent, rule.consequent)})
    rows = []
    for rank, rule in enumerate(rules):
        if rule.consequent not in names or any(item not in names for item in rule.antecedent):
            continue
        rows.append(
            AssociationRule(
                model_version=version,
                rank=rank,
                antecedent_ids=list(rule.antecedent),
                antecedent_label=" + ".join(names[item] for item in rule.antecedent)[:1000],
                antecedent_size=len(rule.antecedent),
                consequent_id=rule.consequent,
                support=rule.support,
                confidence=rule.confidence,
                lift=rule.lift,
                leverage=rule.leverage,
                conviction=None if np.isinf(rule.conviction) else rule.conviction,
                antecedent_count=rule.antecedent_count,
                consequent_count=rule.consequent_count,
                rule_count=rule.rule_count,
                n_baskets=rule.n_baskets,
            )
        )
    with transaction.atomic():
        _rows_delete(AssociationRule.objects.filter(model_version=version))
        AssociationRule.objects.bulk_create(rows, batch_size=_BATCH)
        # Ids by rank from one query: bulk_create only returns ids on some databases.
        ids = dict(AssociationRule.objects.filter(model_version=version).values_list("rank", "id"))
        RuleAntecedentItem.objects.bulk_create(
            (
                RuleAntecedentItem(
                    rule_id=ids[row.rank],
                    product_id=product_id,
                    model_version=version,
                    antecedent_size=row.antecedent_size,
                )
                for row in rows
                for product_id in row.antecedent_ids
            ),
            batch_size=_BATCH,
        )
    return len(rows)


def _rows_delete(rules) -> None:
    # Items first, with one DELETE each, so the rules' delete needs no cascade collection.
    RuleAntecedentItem.objects.filter(rule__in=rules.values("id")).delete()
    rules.delete()


def rules_prune(*, keep_version_id: int | None = None) -> None:
    """Delete the rule rows of old versions: all but the active one, ``keep_version_id`` and the
    :data:`KEEP_VERSIONS_WITH_ROWS` newest. Their artifacts stay (see :func:`rules_on_promote`)."""
    newest = list(
        ModelVersion.objects.filter(kind=RULES_KIND)
        .order_by("-version")
        .values_list("id", flat=True)[:KEEP_VERSIONS_WITH_ROWS]
    )
    keep = {*newest, keep_version_id}
    active = selectors.rules_version_get()
    if active is not None:
        keep.add(active.id)
    old = (
        ModelVersion.objects.filter(kind=RULES_KIND)
        .exclude(id__in=[pk for pk in keep if pk is not None])
        .values("id")
    )
    _rows_delete(AssociationRule.objects.filter(model_version__in=old))


def rules_on_promote(version: ModelVersion) -> None:
    """After a promotion commits: a version whose rows were pruned (a rollback to an old one)
    gets them back from its artifact."""
    if AssociationRule.objects.filter(model_version=version).exists():
        return
    if not version.artifact_path:
        return
    rules_store(version=version, rules=rules_artifact_load(version=version))


def rules_gate(new: dict[str, Any], active: dict[str, Any]) -> GateDecision:
    """Promote when there is a rule and the top rules' mean lift is not worse beyond tolerance."""
    if not new.get("n_rules"):
        return GateDecision(False, "n_rules 0: no rule passed the thresholds")
    value = float(new["top_lift_mean"])
    if not active or active.get("top_lift_mean") is None:
        return GateDecision(True, f"top_lift_mean {value:.4f}; no active model to compare with")
    old = float(active["top_lift_mean"])
    passed = value >= old * (1 - GATE_TOLERANCE)
    verdict = "not worse than" if passed else "worse than"
    return GateDecision(
        passed,
        f"top_lift_mean {value:.4f} {verdict} active {old:.4f} (tolerance {GATE_TOLERANCE:.0%})",
    )


def rules_trainer() -> Trainer:
    return Trainer(
        kind=RULES_KIND,
        train=rules_train,
        gate=rules_gate,
        default_params=dict(DEFAULT_PARAMS),
        on_promote=rules_on_promote,
        title="Association rules",
    )
