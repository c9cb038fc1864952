import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from tqdm import tqdm

from shopops.store.importers import FILE_FORMATS, ImportFileError, transactions_import
from shopops.store.importers.online_retail import STAGE_READ


class _TqdmProgress:
    """One tqdm bar per import stage, on stderr, shown only on a terminal."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None
        self._stage = ""
        self._is_disabled = not sys.stderr.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._bar is None or stage != self._stage:
            self.close()
            self._stage = stage
            in_bytes = stage == STAGE_READ
            self._bar = tqdm(
                total=total,
                desc=stage,
                unit="B" if in_bytes else " rows",
                unit_scale=in_bytes,
                file=sys.stderr,
                disable=self._is_disabled,
                leave=False,
            )
        self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Command(BaseCommand):
    help = (
        "Import a transactions file (UCI Online Retail CSV, plain or .csv.gz) into products, "
        "customers, orders and order items. Re-running a file creates nothing new; rejected "
        "lines are listed in a CSV report."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .csv or .csv.gz file to import.")
        parser.add_argument(
            "--format",
            dest="file_format",
            choices=FILE_FORMATS,
            default=FILE_FORMATS[0],
            help="Layout of the file (default: %(default)s).",
        )
        parser.add_argument(
            "--report",
            default=None,
            help="Where to write the CSV of rejected lines "
            "(default: IMPORT_REPORT_DIR/<file stem>-<UTC timestamp>.csv).",
        )

    def handle(self, *args, **options):
        started = time.monotonic()
        progress = _TqdmProgress()
        try:
            run = transactions_import(
                path=options["path"],
                file_format=options["file_format"],
                report_path=options["report"],
                progress=progress,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(
                f"The import failed while writing and nothing was saved: {exc}"
            ) from exc
        finally:
            progress.close()
        counts = run.counts
        lines = [
            f"Imported {run.file_name} ({run.file_format}) in {time.monotonic() - started:.1f}s",
            f"  lines read:               {run.lines_read:>9,}",
            f"  orders created:           {counts.orders_created:>9,}"
            f"  (returns {counts.returns_created:,}, guest orders "
            f"{counts.guest_orders_created:,})",
            f"  customers created:        {counts.customers_created:>9,}",
            f"  products created:         {counts.products_created:>9,}",
            f"  items created:            {counts.items_created:>9,}",
            f"  orders already imported:  {counts.orders_skipped:>9,}  (skipped)",
            f"  lines rejected:           {run.rejected_total:>9,}",
        ]
        lines += [f"    {reason}: {count:,}" for reason, count in run.rejected_by_reason.items()]
        lines.append(f"  report: {run.report_path or '(no rejected lines, none written)'}")
        self.stdout.write(self.style.SUCCESS(lines[0]))
        self.stdout.write("\n".join(lines[1:]))
