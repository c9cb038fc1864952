"""Association rules on the UCI Online Retail baskets: the engine beside mlxtend and others.

    .venv/bin/python bench/association_rules.py [--support 0.005] [--confidence 0.5]
        [--max-length N] [--methods engine,mlxtend,pyfim,efficient-apriori] [--top 10]
        [--data PATH]

One basket per non-cancelled invoice (InvoiceNo not starting with C, Quantity > 0,
UnitPrice > 0, postage/fee/adjustment/voucher codes dropped), as the set of upper-cased
StockCodes. Each method runs in its own child process, so its time and peak RSS
(``ru_maxrss``) are its own:

* ``engine``: ``mining.engine.association.association_rules`` (the itemsets column times
  ``frequent_itemsets`` alone, a second run);
* ``mlxtend``: one-hot sparse DataFrame + ``fpgrowth`` + ``association_rules`` (float
  thresholds), rules with one consequent item kept;
* ``pyfim``, ``efficient-apriori``: their frequent-itemset search (given the exact integer
  minimum count), then the same exact rule step as the engine, written out here.

Every method's rules are compared with the engine's. Prints nothing to a file; exits 0 with a
message when the data file (``../shared/data/online-retail/``) is absent.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from decimal import Decimal
from fractions import Fraction
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "online-retail" / "online_retail.csv.gz"
METHODS = ("engine", "mlxtend", "pyfim", "efficient-apriori")
MODULES = {
    "engine": "numpy",
    "mlxtend": "mlxtend",
    "pyfim": "fim",
    "efficient-apriori": "efficient_apriori",
}
DISTRIBUTIONS = {"mlxtend": "mlxtend", "pyfim": "pyfim", "efficient-apriori": "efficient-apriori"}
# Postage, fees, manual adjustments, charity: lines that are not products.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}
)
GIFT_VOUCHER_PREFIX = "GIFT_"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        return _worker(args)
    data = Path(args.data)
    if not data.is_file():
        print(f"Online Retail data not found at {data}: nothing to benchmark.")
        return 0

    started = time.perf_counter()
    baskets, descriptions = load_baskets(data)
    load_seconds = time.perf_counter() - started
    n_items = len(set().union(*baskets)) if baskets else 0
    n_lines = sum(len(basket) for basket in baskets)
    print(f"data: {data}")
    print(
        f"baskets: {len(baskets):,}   items: {n_items:,}   basket lines: {n_lines:,}   "
        f"(loaded in {load_seconds:.1f} s)"
    )
    print(
        f"min_support: {args.support}   min_confidence: {args.confidence}   "
        f"max_length: {args.max_length or 'none'}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
    )

    methods = [method.strip() for method in args.methods.split(",") if method.strip()]
    unknown = set(methods) - set(METHODS)
    if unknown:
        print(f"unknown methods: {', '.join(sorted(unknown))}; choose from {', '.join(METHODS)}")
        return 2

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-association-") as folder:
        # One tab-separated basket a line: read back line by line, so the child's memory
        # high-water mark before mining is the baskets themselves, not a parser's buffers.
        baskets_path = Path(folder) / "baskets.tsv"
        baskets_path.write_text("".join("\t".join(sorted(b)) + "\n" for b in baskets))
        for method in methods:
            if not _available(method):
                print(f"{method}: not installed, skipped")
                continue
            out = Path(folder) / f"{method}.json"
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", method]
            command += ["--baskets", str(baskets_path), "--out", str(out)]
            command += ["--support", args.support, "--confidence", args.confidence]
            if args.max_length:
                command += ["--max-length", str(args.max_length)]
            child = subprocess.run(command, check=False, cwd=ROOT)
            if child.returncode != 0 or not out.is_file():
                print(f"{method}: failed (exit {child.returncode})")
                continue
            results[method] = json.loads(out.read_text())

    _print_table(results)
    _print_agreement(results)
    if "engine" in results:
        _print_top(results["engine"]["rules"], descriptions, args.top)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--support", default="0.005", help="min_support (default 0.005)")
    parser.add_argument("--confidence", default="0.5", help="min_confidence (default 0.5)")
    parser.add_argument("--max-length", type=int, default=None, help="largest itemset size")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--top", type=int, default=10, help="rules to list by lift")
    parser.add_argument("--data", default=str(DATA), help="online_retail.csv.gz")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--baskets", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser


def load_baskets(path: Path) -> tuple[list[set[str]], dict[str, str]]:
    """Baskets (one set of StockCodes per invoice) and each code's most common description."""
    baskets: dict[str, set[str]] = defaultdict(set)
    description_counts: dict[str, Counter] = defaultdict(Counter)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["InvoiceNo"].startswith("C"):
                continue
            if float(row["Quantity"]) <= 0 or float(row["UnitPrice"]) <= 0:
                continue
            code = row["StockCode"].strip().upper()
            if code in NON_PRODUCT_CODES or code.startswith(GIFT_VOUCHER_PREFIX):
                continue
            baskets[row["InvoiceNo"]].add(code)
            if row["Description"]:
                description_counts[code][row["Description"].strip()] += 1
    descriptions = {
        code: counts.most_common(1)[0][0] for code, counts in description_counts.items()
    }
    return list(baskets.values()), descriptions


def _available(method: str) -> bool:
    try:
        __import__(MODULES[method])
    except ImportError:
        return False
    return True


# --- child processes -------------------------------------------------------------------------


def _worker(args: argparse.Namespace) -> int:
    runner = {
        "engine": _run_engine,
        "mlxtend": _run_mlxtend,
        "pyfim": _run_pyfim,
        "efficient-apriori": _run_efficient_apriori,
    }[args.worker]
    with open(args.baskets, encoding="utf-8") as handle:
        baskets = [line.rstrip("\n").split("\t") if line != "\n" else [] for line in handle]
    baseline_mib = _max_rss_mib()
    result = runner(baskets, args.support, args.confidence, args.max_length)
    result["baseline_rss_mib"] = baseline_mib
    result["peak_rss_mib"] = _max_rss_mib()
    result["n_baskets"] = len(baskets)
    result["version"] = _version(args.worker)
    Path(args.out).write_text(json.dumps(result))
    return 0


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _version(method: str) -> str:
    if method == "engine":
        import numpy
        import scipy

        return f"numpy {numpy.__version__}, scipy {scipy.__version__}"
    return metadata.version(DISTRIBUTIONS[method])


def _run_engine(baskets, support, confidence, max_length) -> dict:
    sys.path.insert(0, str(ROOT))
    from mining.engine.association import association_rules, frequent_itemsets

    started = time.perf_counter()
    itemsets = frequent_itemsets(baskets, min_support=support, max_length=max_length)
    itemsets_seconds = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    rules = association_rules(
        baskets, min_support=support, min_confidence=confidence, max_length=max_length
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "itemsets": len(itemsets),
        "itemsets_seconds": itemsets_seconds,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rules": [
            [list(rule.antecedent), rule.consequent, rule.rule_count, rule.antecedent_count]
            + [rule.lift, rule.confidence, rule.support]
            for rule in rules
        ],
    }


def _run_mlxtend(baskets, support, confidence, max_length) -> dict:
    import numpy as np
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from scipy import sparse

    n = len(baskets)
    started, cpu_started = time.perf_counter(), time.process_time()
    items = sorted({item for basket in baskets for item in basket})
    index = {item: code for code, item in enumerate(items)}
    rows = np.repeat(np.arange(n), [len(basket) for basket in baskets])
    cols = np.fromiter((index[item] for basket in baskets for item in basket), dtype=np.int64)
    onehot = sparse.csc_matrix(
        (np.ones(len(cols), dtype=bool), (rows, cols)), shape=(n, len(items))
    )
    frame = pd.DataFrame.sparse.from_spmatrix(onehot, columns=items)
    frequent = fpgrowth(frame, min_support=float(support), use_colnames=True, max_len=max_length)
    itemsets_seconds = time.perf_counter() - started
    if len(frequent):
        table = association_rules(frequent, metric="confidence", min_threshold=float(confidence))
        table = table[table["consequents"].map(len) == 1]
    else:
        table = pd.DataFrame(columns=["antecedents", "consequents", "support"])
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    counts = {
        itemset: round(value * n)
        for itemset, value in zip(frequent["itemsets"], frequent["support"], strict=True)
    }
    rules = []
    for antecedent, consequent, value in zip(
        table["antecedents"], table["consequents"], table["support"], strict=True
    ):
        rules.append([sorted(antecedent), next(iter(consequent)), round(value * n)])
        rules[-1].append(counts[antecedent])
    return {
        "itemsets": len(frequent),
        "itemsets_seconds": itemsets_seconds,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rules": rules,
    }


def _run_pyfim(baskets, support, confidence, max_length) -> dict:
    import fim

    n = len(baskets)
    started, cpu_started = time.perf_counter(), time.process_time()
    # A negative supp is an absolute count: the exact integer threshold, no float involved.
    options = {"target": "s", "supp": -_min_count(support, n), "zmin": 1, "report": "a"}
    if max_length:
        options["zmax"] = max_length
    found = fim.fpgrowth(baskets, **options)
    counts = {frozenset(itemset): count for itemset, count in found}
    itemsets_seconds = time.perf_counter() - started
    rules = _exact_rules(counts, confidence)
    return {
        "itemsets": len(counts),
        "itemsets_seconds": itemsets_seconds,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "rules": rules,
    }


def _run_efficient_apriori(baskets, support, confidence, max_length) -> dict:
    from efficient_apriori.itemsets import itemsets_from_transactions

    n = len(baskets)
    started, cpu_started = time.perf_counter(), time.process_time()
    min_count = _min_count(support, n)
    # Its test is the float "count / n >= min_support": half a basket below the exact
    # minimum count keeps every count >= min_count and drops every count <= min_count - 1.
    by_size, _ = itemsets_from_transactions(
        [tuple(basket) for basket in baskets],
        min_support=max(0.0, (min_count - 0.5) / n),
        max_length=max_length or 10**6,
    )
    counts = {
        frozenset(itemset): count
        for level in by_size.values()
        for itemset, count in level.items()
        if count >= min_count
    }
    itemsets_seconds = time.perf_counter() - started
    rules = _exact_rules(counts, confidence)
    return {
        "itemsets": len(counts),
        "itemsets_seconds": itemsets_seconds,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "rules": rules,
    }


def _min_count(support: str, n: int) -> int:
    fraction = Fraction(Decimal(str(support)))
    return max(1, -(-fraction.numerator * n // fraction.denominator))


def _exact_rules(counts: dict[frozenset, int], confidence: str) -> list[list]:
    """The engine's rule step on any {itemset: count}: X -> y kept iff r * den >= num * a."""
    threshold = Fraction(Decimal(str(confidence)))
    rules = []
    for itemset, rule_count in counts.items():
        if len(itemset) < 2:
            continue
        for consequent in itemset:
            antecedent = itemset - {consequent}
            antecedent_count = counts[antecedent]
            if rule_count * threshold.denominator >= threshold.numerator * antecedent_count:
                rules.append([sorted(antecedent), consequent, rule_count, antecedent_count])
    return rules


# --- report ----------------------------------------------------------------------------------


def _print_table(results: dict[str, dict]) -> None:
    engine_seconds = results.get("engine", {}).get("seconds")
    print()
    header = (
        f"{'method':<18} {'itemsets':>8} {'rules':>7} {'itemsets s':>10} {'total s':>8} "
        f"{'x engine':>8} {'cpu s':>6} {'peak RSS MiB':>12} {'+ over start':>12}  version"
    )
    print(header)
    print("-" * len(header))
    for method, result in results.items():
        ratio = f"{result['seconds'] / engine_seconds:.1f}" if engine_seconds else "-"
        print(
            f"{method:<18} {result['itemsets']:>8,} {len(result['rules']):>7,} "
            f"{result['itemsets_seconds']:>10.2f} {result['seconds']:>8.2f} {ratio:>8} "
            f"{result['cpu_seconds']:>6.2f} "
            f"{result['peak_rss_mib']:>12.0f} "
            f"{result['peak_rss_mib'] - result['baseline_rss_mib']:>12.0f}  {result['version']}"
        )
    print(
        "total s: wall seconds for itemsets + rules (mlxtend: one-hot DataFrame included); "
        "x engine: total s / engine's;\ncpu s: CPU seconds of the same span (the wall "
        "times swell when other jobs share the cores); peak RSS: the child's ru_maxrss;\n"
        "+ over start: peak RSS minus the high-water mark after importing and reading the baskets"
    )


def _print_agreement(results: dict[str, dict]) -> None:
    if "engine" not in results:
        return
    reference = {_key(rule): rule for rule in results["engine"]["rules"]}
    for method, result in results.items():
        if method == "engine":
            continue
        other = {_key(rule): rule for rule in result["rules"]}
        only_engine = sorted(reference.keys() - other.keys())
        only_other = sorted(other.keys() - reference.keys())
        count_differs = sorted(
            key for key in reference.keys() & other.keys() if reference[key][2:4] != other[key][2:4]
        )
        if not (only_engine or only_other or count_differs):
            print(
                f"\n{method} vs engine: the rule sets agree ({len(reference):,} rules, same counts)"
            )
            continue
        print(
            f"\n{method} vs engine: DIFFER - {len(only_engine)} only in engine, "
            f"{len(only_other)} only in {method}, {len(count_differs)} with other counts"
        )
        for label, keys, rules in (
            ("only in engine", only_engine, reference),
            (f"only in {method}", only_other, other),
            ("counts differ (engine's)", count_differs, reference),
        ):
            for key in keys[:20]:
                rule = rules[key]
                print(
                    f"  {label}: {', '.join(rule[0])} -> {rule[1]}   "
                    f"rule_count {rule[2]}, antecedent_count {rule[3]}, "
                    f"confidence {Fraction(rule[2], rule[3])}"
                )
            if len(keys) > 20:
                print(f"  ... and {len(keys) - 20} more")


def _key(rule: list) -> tuple:
    return tuple(rule[0]), rule[1]


def _print_top(rules: list[list], descriptions: dict[str, str], top: int) -> None:
    if not rules or top <= 0:
        return
    print(f"\ntop {min(top, len(rules))} rules by lift (engine):")
    print(f"{'lift':>7} {'conf':>6} {'support':>8}  rule")
    for antecedent, consequent, _, _, lift, confidence, support in rules[:top]:
        names = " + ".join(f"{code} {descriptions.get(code, '?')}" for code in antecedent)
        print(
            f"{lift:>7.1f} {confidence:>6.3f} {support:>8.4f}  "
            f"{names}  ->  {consequent} {descriptions.get(consequent, '?')}"
        )


if __name__ == "__main__":
    sys.exit(main())
