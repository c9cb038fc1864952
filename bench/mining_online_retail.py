"""Benchmark: the three mining models on the real Online Retail data.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shopops \
        .venv/bin/python bench/mining_online_retail.py

Imports the file into a scratch PostgreSQL database (shopops_bench_mining, dropped at the end),
then trains segmentation, association rules and churn through the registry, as Celery would,
and prints K chosen and silhouette, the rule count at the default thresholds with the top 10 by
lift, and churn ROC AUC beside the baselines'.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

from _scratch import ONLINE_RETAIL, django_setup, scratch_postgres


def _train(kind: str):
    from shopops.registry.services import model_training_run_now

    started = time.perf_counter()
    version = model_training_run_now(kind=kind)
    seconds = time.perf_counter() - started
    if version.status == version.Status.FAILED:
        print(f"{kind}: FAILED - {version.error}")
        return None
    print(f"{kind} v{version.version}: {version.status}, trained in {seconds:.1f} s")
    return version


def _bench() -> None:
    django_setup()
    from django.conf import settings

    from mining.models import AssociationRule
    from shopops.store.importers import transactions_import

    with tempfile.TemporaryDirectory() as scratch:
        settings.ARTIFACT_ROOT = Path(scratch) / "artifacts"
        started = time.perf_counter()
        run = transactions_import(
            path=ONLINE_RETAIL, file_format="online-retail", report_path=Path(scratch) / "r.csv"
        )
        print(f"imported {run.lines_read:,} lines in {time.perf_counter() - started:.1f} s")

        segmentation = _train("segmentation")
        if segmentation:
            m = segmentation.metrics
            print(
                f"  K chosen {m['k']} (knee {m['knee_k']}), silhouette {m['silhouette']:.3f} "
                f"(random assignment {m['silhouette_random_baseline']:.3f}), "
                f"Davies-Bouldin {m['davies_bouldin']:.3f}, {m['n_customers']:,} customers"
            )
            print(f"  {m['selection']}")
            for segment in segmentation.segments.order_by("-size"):
                print(
                    f"    {segment.name:<32} {segment.size:>6,} customers, "
                    f"{segment.revenue_share:6.1%} of revenue"
                )

        rules = _train("rules")
        if rules:
            m = rules.metrics
            print(
                f"  params {rules.params}: {m['n_baskets']:,} baskets, {m['n_items']:,} items, "
                f"{m['n_frequent_itemsets']:,} frequent itemsets, {m['n_rules']:,} rules "
                f"(mining {m['seconds_mine']:.2f} s)"
            )
            print("  top 10 by lift:")
            top = (
                AssociationRule.objects.filter(model_version=rules)
                .select_related("consequent")
                .order_by("-lift", "-confidence")[:10]
            )
            for rule in top:
                print(
                    f"    lift {rule.lift:6.1f} conf {rule.confidence:.3f} supp {rule.support:.4f}"
                    f"  {rule.antecedent_label} -> {rule.consequent.name}"
                )

        churn = _train("churn")
        if churn:
            m = churn.metrics
            print(
                f"  horizon {m['horizon_days']} days, train cut-off {m['train_cutoff']}, "
                f"test cut-off {m['test_cutoff']}; served model: {m['chosen_model_title']}"
            )
            print(
                f"  {'model':<18}{'accuracy':>9}{'precision':>10}{'recall':>8}{'F1':>7}{'AUC':>7}"
            )
            for key in ("tree", "boosting", "baseline_prior", "baseline_recency"):
                if f"{key}_roc_auc" not in m:
                    continue
                print(
                    f"  {key:<18}{m[f'{key}_accuracy']:>9.3f}{m[f'{key}_precision']:>10.3f}"
                    f"{m[f'{key}_recall']:>8.3f}{m[f'{key}_f1']:>7.3f}{m[f'{key}_roc_auc']:>7.3f}"
                )


def main() -> int:
    if not ONLINE_RETAIL.exists():
        print(f"skipped: the data file {ONLINE_RETAIL} is absent (see shared/data/README.md).")
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with scratch_postgres("shopops_bench_mining") as url:
        if url is None:
            print("This benchmark needs DATABASE_URL=postgres://... (it makes a scratch database).")
            return 2
        _bench()
    return 0


if __name__ == "__main__":
    sys.exit(main())
