"""Benchmark: import the real Online Retail file (541,909 lines) into PostgreSQL, then again.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shopops \
        .venv/bin/python bench/import_online_retail.py

Creates a scratch database (shopops_bench_import) on the server of DATABASE_URL, migrates it,
times the import and an idempotent re-run, prints the figures and drops the database. The
target is the whole file in under 60 s.
"""

import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DATA_FILE = ROOT.parent / "shared/data/online-retail/online_retail.csv.gz"
SCRATCH_DATABASE = "shopops_bench_import"


def _admin_connection(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    )


def _scratch_database_drop(url: str) -> None:
    from psycopg import sql

    with _admin_connection(url) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(SCRATCH_DATABASE)
            )
        )


def _scratch_database_create(url: str) -> str:
    from psycopg import sql

    _scratch_database_drop(url)
    with _admin_connection(url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SCRATCH_DATABASE)))
    return urlunsplit(urlsplit(url)._replace(path=f"/{SCRATCH_DATABASE}"))


def _bench(report_dir: Path) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from shopops.store.importers import transactions_import
    from shopops.store.models import Customer, Order, OrderItem, Product

    call_command("migrate", verbosity=0)
    print(f"database: PostgreSQL {connection.pg_version // 10000}, scratch {SCRATCH_DATABASE}")
    print(f"file: {DATA_FILE} ({DATA_FILE.stat().st_size / 1e6:.1f} MB gzip)")

    started = time.perf_counter()
    run = transactions_import(
        path=DATA_FILE, file_format="online-retail", report_path=report_dir / "first.csv"
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
        path=DATA_FILE, file_format="online-retail", report_path=report_dir / "rerun.csv"
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
    if not DATA_FILE.exists():
        print(f"skipped: the data file {DATA_FILE} is absent (see shared/data/README.md).")
        return 0
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("This benchmark needs DATABASE_URL=postgres://... (it creates a scratch database).")
        return 2
    os.environ["DATABASE_URL"] = _scratch_database_create(url)
    try:
        with tempfile.TemporaryDirectory() as report_dir:
            _bench(Path(report_dir))
    finally:
        _scratch_database_drop(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
