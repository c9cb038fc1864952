"""Benchmark: import the real Online Retail file (541,909 lines) into PostgreSQL, then again.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shopops \
        .venv/bin/python bench/import_online_retail.py

Creates a scratch database (shopops_bench_import) on the server of DATABASE_URL, migrates it,
times the import and an idempotent re-run, prints the figures and drops the database. The
target is the whole file in under 60 s.
"""

import sys
import tempfile
import time
from pathlib import Path

from _scratch import ONLINE_RETAIL, django_setup, scratch_postgres

SCRATCH_DATABASE = "shopops_bench_import"


def _bench(report_dir: Path) -> None:
    django_setup()
    from django.db import connection

    from shopops.store.importers import transactions_import
    from shopops.store.models import Customer, Order, OrderItem, Product

    print(f"database: PostgreSQL {connection.pg_version // 10000}, scratch {SCRATCH_DATABASE}")
    print(f"file: {ONLINE_RETAIL} ({ONLINE_RETAIL.stat().st_size / 1e6:.1f} MB gzip)")

    started = time.perf_counter()
    run = transactions_import(
        path=ONLINE_RETAIL, file_format="online-retail", report_path=report_dir / "first.csv"
    )
    seconds = time.perf_counter() - started
    counts = run.counts
    print(f"lines: {run.lines_read:,}")
    print(f"first import: {seconds:.1f} s, {run.lines_read / seconds:,.0f} lines/s")
    print(
        f"  orders {counts.orders_created:,} (returns {counts.returns_created:,}, "
        f"guest {counts.guest_orders_created:,}), customers {counts.customers_created:,}, "
        f"products {counts.products_created:,}, items {counts.items_created:,}"
    )
    rejected = ", ".join(f"{reason} {count:,}" for reason, count in run.rejected_by_reason.items())
    print(f"  rejected {run.rejected_total:,}: {rejected}")

    started = time.perf_counter()
    rerun = transactions_import(
        path=ONLINE_RETAIL, file_format="online-retail", report_path=report_dir / "rerun.csv"
    )
    seconds = time.perf_counter() - started
    print(
        f"re-run: {seconds:.1f} s, orders created {rerun.orders_created}, "
        f"skipped {rerun.counts.orders_skipped:,}, items created {rerun.items_created}"
    )
    print(
        f"tables: orders {Order.objects.count():,}, items {OrderItem.objects.count():,}, "
        f"customers {Customer.objects.count():,}, products {Product.objects.count():,}"
    )
    connection.close()


def main() -> int:
    if not ONLINE_RETAIL.exists():
        print(f"skipped: the data file {ONLINE_RETAIL} is absent (see shared/data/README.md).")
        return 0
    with scratch_postgres(SCRATCH_DATABASE) as url:
        if url is None:
            print(
                "This benchmark needs DATABASE_URL=postgres://... (it creates a scratch database)."
            )
            return 2
        with tempfile.TemporaryDirectory() as report_dir:
            _bench(Path(report_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
