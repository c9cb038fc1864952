"""The Online Retail importer: `manage.py import_transactions` and `transactions_import`.

Expected figures for the real file were computed once by an independent, pandas-free script
(csv module, the rules of the brief applied line by line) and are pinned here.
"""

import csv
import gzip
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections

from shopops.store.importers import ImportFileError, online_retail, transactions_import
from shopops.store.models import Customer, ImportRun, Order, OrderItem, Product
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

REAL_FILE = Path(settings.BASE_DIR).parent / "shared/data/online-retail/online_retail.csv.gz"
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
FORMAT = "online-retail"

STOCK_ADJUSTMENT = "negative quantity on a sale invoice (stock adjustment)"

requires_real_file = pytest.mark.skipif(
    not REAL_FILE.exists(), reason=f"real data set absent: {REAL_FILE} (see shared/data/README.md)"
)


def _write(tmp_path: Path, lines: list[str], name: str = "sales.csv") -> Path:
    path = tmp_path / name
    text = "\n".join([HEADER, *lines]) + "\n"
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _report(path: Path) -> list[tuple[int, str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "reason", "raw"]
    return [(int(line), reason, raw) for line, reason, raw in rows[1:]]


def _store_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count() for model in apps.get_app_config("store").get_models()
    }


def _import(path: Path, **kwargs) -> ImportRun:
    return transactions_import(path=path, file_format=FORMAT, **kwargs)


# --- the real file ----------------------------------------------------------------------------


@pytest.mark.slow
@requires_real_file
@pytest.mark.skipif(connection.vendor != "postgresql", reason="full import runs on PostgreSQL")
def test_real_file_full_import_then_rerun_changes_nothing(tmp_path):
    # when
    run = _import(REAL_FILE, report_path=tmp_path / "report.csv")

    # then
    assert run.status == ImportRun.Status.SUCCEEDED
    assert run.lines_read == 541_909
    assert run.counts.orders_created == 23_195
    assert run.counts.returns_created == 3_422
    assert run.counts.guest_orders_created == 1_410
    assert run.counts.customers_created == 4_362
    assert run.counts.products_created == 3_812
    assert run.counts.items_created == 536_462
    assert run.rejected_by_reason == {
        "non-product code": 2_950,
        STOCK_ADJUSTMENT: 1_336,
        "zero price": 1_161,
    }
    assert len(_report(tmp_path / "report.csv")) == 5_447
    assert Order.objects.filter(status=Order.Status.RETURNED).count() == 3_422
    assert Order.objects.filter(customer__isnull=True).count() == 1_410
    assert OrderItem.objects.count() == 536_462
    counts = _store_counts()

    # when: the same file again
    rerun = _import(REAL_FILE, report_path=tmp_path / "report-2.csv")

    # then
    assert rerun.counts.orders_skipped == 23_195
    assert (rerun.orders_created, rerun.items_created) == (0, 0)
    assert (rerun.customers_created, rerun.products_created) == (0, 0)
    assert _store_counts() == {**counts, "ImportRun": counts["ImportRun"] + 1}


@requires_real_file
def test_sample_of_real_file_imports_on_any_backend(tmp_path):
    # given: the header and the first 5,000 data lines
    with gzip.open(REAL_FILE, "rt", encoding="utf-8", newline="") as handle:
        head = [next(handle) for _ in range(5_001)]
    sample = tmp_path / "sample.csv.gz"
    sample.write_bytes(gzip.compress("".join(head).encode()))

    # when
    run = _import(sample)

    # then
    assert run.lines_read == 5_000
    assert run.counts.orders_created == 286
    assert run.counts.returns_created == 28
    assert run.counts.guest_orders_created == 11
    assert run.customers_created == 195
    assert run.products_created == 1_581
    assert run.items_created == 4_978
    assert run.rejected_by_reason == {"non-product code": 10, "zero price": 10, STOCK_ADJUSTMENT: 2}
    report = _report(Path(run.report_path))
    assert Path(run.report_path).parent == settings.IMPORT_REPORT_DIR
    assert Path(run.report_path).name.startswith("sample-")
    assert [(line, reason) for line, reason, _ in report[:3]] == [
        (47, "non-product code"),
        (143, "non-product code"),
        (388, "non-product code"),
    ]
    assert (624, "zero price", "536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom") in report
    assert (2408, STOCK_ADJUSTMENT) in [(line, reason) for line, reason, _ in report]
    order = Order.objects.get(external_number="536365")
    assert order.customer.external_id == "17850"
    assert (order.item_count, order.total, order.status) == (7, Decimal("139.12"), "paid")
    assert order.placed_at == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)


# --- small hand-written files -------------------------------------------------------------------


def test_bad_rows_are_reported_and_good_rows_imported(tmp_path):
    # given
    path = _write(
        tmp_path,
        [
            "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
            "536365,71053,WHITE METAL LANTERN,six,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",
            "536366,22633,HAND WARMER,6,2010-13-01 08:28:00,1.85,17850.0,United Kingdom",
            "536366,,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom",
            "536367,84879,BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047.0",
            "536367,22745,POPPY'S PLAYHOUSE,6,2010-12-01 08:34:00,2.1,13047.0,United Kingdom",
            "536367,22748,PLAYHOUSE KITCHEN,6,2010-12-01 08:34:00,2.1x,13047.0,United Kingdom",
            "536368,22960,JAM MAKING SET,-6,2010-12-01 08:34:00,4.25,13047.0,United Kingdom",
        ],
    )
    report_path = tmp_path / "out" / "rejected.csv"

    # when
    run = _import(path, report_path=report_path)

    # then
    assert _report(report_path) == [
        (
            3,
            "unparsable quantity",
            "536365,71053,WHITE METAL LANTERN,six,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",
        ),
        (
            4,
            "unparsable invoice date",
            "536366,22633,HAND WARMER,6,2010-13-01 08:28:00,1.85,17850.0,United Kingdom",
        ),
        (
            5,
            "empty stock code",
            "536366,,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom",
        ),
        (6, "wrong field count", "536367,84879,BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047.0"),
        (
            8,
            "unparsable unit price",
            "536367,22748,PLAYHOUSE KITCHEN,6,2010-12-01 08:34:00,2.1x,13047.0,United Kingdom",
        ),
        (
            9,
            STOCK_ADJUSTMENT,
            "536368,22960,JAM MAKING SET,-6,2010-12-01 08:34:00,4.25,13047.0,United Kingdom",
        ),
    ]
    assert run.status == ImportRun.Status.SUCCEEDED
    assert run.report_path == str(report_path)
    assert run.lines_read == 8
    assert run.rejected_total == 6
    assert sorted(Order.objects.values_list("external_number", "item_count", "total")) == [
        ("536365", 1, Decimal("15.30")),
        ("536367", 1, Decimal("12.60")),
    ]
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["22745", "85123A"]


def test_quoted_fields_with_commas_and_newlines_are_read(tmp_path):
    # given
    path = _write(
        tmp_path,
        [
            '536381,82567,"AIRLINE LOUNGE,METAL SIGN",2,2010-12-01 09:41:00,2.1,15311.0,EIRE',
            '536381,22041,"RECORD FRAME 7"" SINGLE',
            ' SIZE",48,2010-12-01 09:41:00,2.1,15311.0,United Kingdom',
            "536382,22139,RETROSPOT TEA SET,1,2010-12-01 09:45:00,4.95,15311.0,United Kingdom",
            '536383,22139,"UNCLOSED,1,2010-12-01 09:45:00,4.95,15311.0,United Kingdom',
        ],
    )

    # when
    run = _import(path)

    # then
    assert dict(Product.objects.values_list("sku", "name")) == {
        "82567": "AIRLINE LOUNGE,METAL SIGN",
        "22041": 'RECORD FRAME 7" SINGLE\n SIZE',
        "22139": "RETROSPOT TEA SET",
    }
    assert run.lines_read == 4
    assert _report(Path(run.report_path)) == [
        (
            6,
            "unterminated quoted field",
            '536383,22139,"UNCLOSED,1,2010-12-01 09:45:00,4.95,15311.0,United Kingdom',
        )
    ]


def test_non_product_codes_and_zero_prices_are_reported_and_create_no_product(tmp_path):
    # given
    codes = ["POST", "DOT", "M", "m", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"]
    lines = [f"537000,{code},FEE,1,2010-12-05 10:00:00,5.0,12583.0,France" for code in codes] + [
        "537000,PADS,PADS TO MATCH ALL CUSHIONS,1,2010-12-05 10:00:00,0.001,12583.0,France",
        "537000,gift_0001_20,Dotcomgiftshop Gift Voucher,1,2010-12-05 10:00:00,17.02,,France",
        "537000,DCGS0003,BOXED GLASS ASHTRAY,1,2010-12-05 10:00:00,2.51,12583.0,France",
        "537000,DCGSSBOY,BOYS PARTY BAG,1,2010-12-05 10:00:00,3.29,12583.0,France",
        "537001,22139,,56,2010-12-05 11:00:00,0.0,,United Kingdom",
        "537002,22140,FREE GIFT,1,2010-12-05 11:00:00,0,13047.0,United Kingdom",
        "A563186,B,Adjust bad debt,1,2011-08-12 14:51:00,-11062.06,,United Kingdom",
    ]
    path = _write(tmp_path, lines)

    # when
    run = _import(path)

    # then
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["DCGS0003", "DCGSSBOY"]
    assert run.rejected_by_reason == {"non-product code": 14, "zero price": 2}
    report = _report(Path(run.report_path))
    assert [line for line, reason, _ in report if reason == "zero price"] == [17, 18]
    assert [line for line, reason, _ in report if reason == "non-product code"] == [
        *range(2, 15),
        19,
    ]
    order = Order.objects.get()
    assert (order.external_number, order.item_count, order.total) == ("537000", 2, Decimal("5.80"))


def test_cancellation_becomes_a_returned_order_linked_to_the_customer(tmp_path):
    # given
    path = _write(
        tmp_path,
        [
            "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",
            "C536391,71053,WHITE METAL LANTERN,-2,2010-12-01 10:24:00,3.39,17850.0,United Kingdom",
            "C536391,22556,PLASTERS IN TIN,-12,2010-12-01 10:24:00,1.65,17850.0,United Kingdom",
            "C536392,22557,PLASTERS SKULLS,5,2010-12-01 10:25:00,1.65,17850.0,United Kingdom",
        ],
    )

    # when
    run = _import(path)

    # then
    returned = Order.objects.get(external_number="C536391")
    assert returned.status == Order.Status.RETURNED
    assert returned.customer == Customer.objects.get(external_id="17850")
    assert (returned.item_count, returned.total) == (2, Decimal("26.58"))
    assert sorted(returned.items.values_list("product__sku", "quantity", "unit_price")) == [
        ("22556", 12, Decimal("1.650")),
        ("71053", 2, Decimal("3.390")),
    ]
    assert Order.objects.get(external_number="536365").status == Order.Status.PAID
    assert run.counts.returns_created == 1
    assert run.rejected_by_reason == {"positive quantity on a cancellation": 1}


def test_a_stock_code_with_varying_descriptions_gives_one_product(tmp_path):
    # given
    path = _write(
        tmp_path,
        [
            "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,,UK",
            "536366,85123A,CREAM HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:27:00,2.95,,UK",
            "536367,85123a,CREAM HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:28:00,2.95,,UK",
            "536368,85123A,,6,2010-12-01 08:29:00,2.55,,UK",
            "536369,85123A,  CREAM HANGING HEART T-LIGHT HOLDER ,6,2010-12-01 08:30:00,2.55,,UK",
        ],
    )

    # when
    run = _import(path)

    # then
    product = Product.objects.get()
    assert (product.sku, product.name, product.price) == (
        "85123A",
        "CREAM HANGING HEART T-LIGHT HOLDER",
        Decimal("2.550"),
    )
    assert (product.currency, product.stock) == ("GBP", None)
    assert run.products_created == 1
    assert OrderItem.objects.filter(product=product).count() == 5


def test_lines_without_customer_become_guest_orders(tmp_path):
    # given
    path = _write(
        tmp_path,
        [
            "536544,21773,ROSE BATHROOM BOTTLE,1,2010-12-01 14:32:00,2.51,,United Kingdom",
            "536544,21774,CATS BATHROOM BOTTLE,2,2010-12-01 14:32:00,2.51,,United Kingdom",
            "C536548,22244,3 HOOK HANGER MAGIC GARDEN,-4,2010-12-01 14:33:00,1.95,,Germany",
        ],
    )

    # when
    run = _import(path)

    # then
    assert Customer.objects.count() == 0
    assert sorted(Order.objects.values_list("external_number", "customer", "country", "total")) == [
        ("536544", None, "United Kingdom", Decimal("7.53")),
        ("C536548", None, "Germany", Decimal("7.80")),
    ]
    assert run.counts.guest_orders_created == 2
    assert run.customers_created == 0


def test_customer_gets_plain_id_most_frequent_country_and_first_invoice_date(tmp_path):
    # given
    path = _write(
        tmp_path,
        [
            "536400,22139,TEA SET,1,2010-12-03 09:00:00,4.95,12370.0,Austria",
            "536370,22139,TEA SET,1,2010-12-02 09:00:00,4.95,12370.0,Cyprus",
            "536370,22140,TEA CUP,1,2010-12-02 09:00:00,1.25,12370.0,Cyprus",
            "C536371,22139,TEA SET,-1,2010-12-01 17:00:00,4.95,12370.0,Cyprus",
            "536372,22139,TEA SET,1,2010-12-01 18:00:00,4.95,12371,France",
        ],
    )

    # when
    run = _import(path)

    # then
    assert sorted(Customer.objects.values_list("external_id", "country", "first_seen_at")) == [
        ("12370", "Cyprus", datetime(2010, 12, 1, 17, 0, tzinfo=UTC)),
        ("12371", "France", datetime(2010, 12, 1, 18, 0, tzinfo=UTC)),
    ]
    assert run.customers_created == 2
    assert Order.objects.get(external_number="536400").country == "Austria"


def test_totals_are_exact_with_three_decimal_prices(tmp_path):
    # given: 0.565 * 3 + 0.001 * 5 = 1.700; 0.125 * 1 = 0.125 rounds half up to 0.13
    path = _write(
        tmp_path,
        [
            "540000,20000,SMALL THING,3,2011-01-04 10:00:00,0.565,12346.0,United Kingdom",
            "540000,20001,TINY THING,5,2011-01-04 10:00:00,0.001,12346.0,United Kingdom",
            "540001,20002,HALF CENT THING,1,2011-01-04 10:01:00,0.125,12346.0,United Kingdom",
        ],
    )

    # when
    _import(path)

    # then
    assert dict(Order.objects.values_list("external_number", "total")) == {
        "540000": Decimal("1.70"),
        "540001": Decimal("0.13"),
    }
    assert dict(Product.objects.values_list("sku", "price")) == {
        "20000": Decimal("0.565"),
        "20001": Decimal("0.001"),
        "20002": Decimal("0.125"),
    }


def test_rerun_changes_nothing_and_reuses_existing_products_and_customers(tmp_path):
    # given: a product and a customer that exist before the first import
    ProductFactory(sku="22139", name="Shop's own name", price=Decimal("9.99"))
    CustomerFactory(external_id="17850", country="Wales")
    path = _write(
        tmp_path,
        [
            "536365,22139,TEA SET,6,2010-12-01 08:26:00,4.95,17850.0,United Kingdom",
            "536365,22140,TEA CUP,6,2010-12-01 08:26:00,1.25,17850.0,United Kingdom",
            "536366,22140,TEA CUP,1,2010-12-01 08:27:00,1.25,13047.0,United Kingdom",
            "536367,POST,POSTAGE,1,2010-12-01 08:28:00,18.0,13047.0,United Kingdom",
        ],
        name="sales.csv.gz",
    )
    first = _import(path)
    counts = _store_counts()

    # when
    second = _import(path)

    # then
    assert (first.products_created, first.customers_created, first.orders_created) == (1, 1, 2)
    assert (second.products_created, second.customers_created, second.orders_created) == (0, 0, 0)
    assert second.counts.orders_skipped == 2
    assert second.items_created == 0
    assert second.rejected_by_reason == {"non-product code": 1}
    assert _store_counts() == {**counts, "ImportRun": counts["ImportRun"] + 1}
    assert Product.objects.get(sku="22139").name == "Shop's own name"
    assert Customer.objects.get(external_id="17850").country == "Wales"
    assert first.report_path != second.report_path


def test_command_prints_summary_and_records_the_run(tmp_path):
    # given
    path = _write(
        tmp_path,
        [
            "536365,22139,TEA SET,6,2010-12-01 08:26:00,4.95,17850.0,United Kingdom",
            "C536366,22139,TEA SET,-1,2010-12-01 08:27:00,4.95,17850.0,United Kingdom",
            "536367,22140,TEA CUP,1,2010-12-01 08:28:00,1.25,,United Kingdom",
            "536368,POST,POSTAGE,1,2010-12-01 08:29:00,18.0,,United Kingdom",
        ],
    )
    out = StringIO()

    # when
    call_command("import_transactions", str(path), "--format", FORMAT, stdout=out)

    # then
    run = ImportRun.objects.get()
    assert (run.status, run.file_name, run.file_format) == ("succeeded", str(path), FORMAT)
    assert (run.lines_read, run.orders_created, run.items_created) == (4, 3, 3)
    assert (run.customers_created, run.products_created) == (1, 2)
    assert len(run.file_sha256) == 64
    assert run.finished_at is not None
    summary = out.getvalue().splitlines()
    assert summary[0].startswith(f"Imported {path} (online-retail) in ")
    assert summary[1:] == [
        "  lines read:                       4",
        "  orders created:                   3  (returns 1, guest orders 1)",
        "  customers created:                1",
        "  products created:                 2",
        "  items created:                    3",
        "  orders already imported:          0  (skipped)",
        "  lines rejected:                   1",
        "    non-product code: 1",
        f"  report: {run.report_path}",
    ]


def test_a_failure_while_writing_marks_the_run_failed_and_keeps_no_data(tmp_path, monkeypatch):
    # given
    path = _write(
        tmp_path, ["536365,22139,TEA SET,6,2010-12-01 08:26:00,4.95,17850.0,United Kingdom"]
    )

    def failing_items_write(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(online_retail, "_items_write", failing_items_write)

    # when
    with pytest.raises(CommandError, match="nothing was saved: disk full"):
        call_command("import_transactions", str(path))

    # then
    run = ImportRun.objects.get()
    assert (run.status, run.error) == ("failed", "DatabaseError: disk full")
    assert {name: count for name, count in _store_counts().items() if count} == {"ImportRun": 1}


# --- files that are not importable --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "missing.csv does not exist or is not a file."),
        ("empty.csv", b"", "empty.csv is empty."),
        ("empty.csv.gz", gzip.compress(b""), "empty.csv.gz is empty."),
        ("header-only.csv", (HEADER + "\n").encode(), "header-only.csv has a header but no data"),
        (
            "wrong-header.csv",
            b"Invoice,Code,Quantity\n536365,22139,6\n",
            "wrong-header.csv is not an Online Retail file: its first line must be the header "
            + HEADER,
        ),
        ("garbage.csv.gz", bytes(range(256)) * 8, "garbage.csv.gz is not a valid gzip file"),
        (
            "truncated.csv.gz",
            gzip.compress(
                (HEADER + "\n536365,22139,TEA,6,2010-12-01 08:26:00,4.95,,UK\n").encode()
            )[:-12],
            "truncated.csv.gz is a truncated or corrupt gzip file",
        ),
        (
            "binary.csv",
            b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
            "binary.csv is not an Online Retail file",
        ),
        (
            "compressed.csv",
            gzip.compress((HEADER + "\n").encode()),
            "compressed.csv is gzip-compressed; name it with a .csv.gz suffix.",
        ),
        ("sales.xlsx", b"PK\x03\x04", "sales.xlsx: .xlsx is not supported"),
        ("sales.json", b"[]", "sales.json is neither a .csv nor a .csv.gz file."),
    ],
)
def test_unimportable_file_raises_command_error_and_writes_nothing(
    tmp_path, name, content, message
):
    # given
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    # when
    with pytest.raises(CommandError) as raised:
        call_command("import_transactions", str(path), stdout=StringIO())

    # then
    assert message in str(raised.value)
    assert str(raised.value).count(". ") == 0  # one sentence
    assert set(_store_counts().values()) == {0}
    assert not settings.IMPORT_REPORT_DIR.exists()


def test_unimportable_file_exits_non_zero_from_the_command_line(tmp_path, capsys, monkeypatch):
    # given: run_from_argv closes every connection when it ends, which would end the test's
    # own transaction before the assertions below
    monkeypatch.setattr(connections, "close_all", lambda: None)

    # when
    with pytest.raises(SystemExit) as raised:
        execute_from_command_line(
            ["manage.py", "import_transactions", "--skip-checks", str(tmp_path / "missing.csv.gz")]
        )

    # then
    assert raised.value.code == 1
    assert capsys.readouterr().err == (
        f"CommandError: {tmp_path / 'missing.csv.gz'} does not exist or is not a file.\n"
    )
    assert set(_store_counts().values()) == {0}


def test_unknown_format_is_refused_by_the_service(tmp_path):
    path = _write(tmp_path, ["536365,22139,TEA SET,6,2010-12-01 08:26:00,4.95,,UK"])

    with pytest.raises(
        ImportFileError, match="Unknown file format 'excel'; supported: online-retail."
    ):
        transactions_import(path=path, file_format="excel")

    assert set(_store_counts().values()) == {0}


def test_lines_that_are_not_utf8_or_hold_nul_bytes_are_rejected(tmp_path):
    # given
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        (HEADER + "\n").encode()
        + b"536365,22139,TEA SET,6,2010-12-01 08:26:00,4.95,17850.0,United Kingdom\n"
        + b"536365,22140,CAF\xe9 SET,6,2010-12-01 08:26:00,4.95,17850.0,United Kingdom\n"
        + b"536365,22141,TEA\x00CUP,6,2010-12-01 08:26:00,4.95,17850.0,United Kingdom\n"
    )

    # when
    run = _import(path)

    # then
    assert _report(Path(run.report_path)) == [
        (
            3,
            "not UTF-8 text",
            "536365,22140,CAF\ufffd SET,6,2010-12-01 08:26:00,4.95,17850.0,United Kingdom",
        ),
        (
            4,
            "NUL byte in line",
            "536365,22141,TEA\\0CUP,6,2010-12-01 08:26:00,4.95,17850.0,United Kingdom",
        ),
    ]
    assert run.lines_read == 3
    assert list(OrderItem.objects.values_list("product__sku", flat=True)) == ["22139"]


def test_progress_is_reported_for_each_stage(tmp_path):
    # given
    path = _write(
        tmp_path,
        [
            "536365,22139,TEA SET,6,2010-12-01 08:26:00,4.95,17850.0,United Kingdom",
            "536366,22140,TEA CUP,1,2010-12-01 08:27:00,1.25,,United Kingdom",
        ],
    )
    calls = []

    # when
    _import(path, progress=lambda stage, done, total: calls.append((stage, done, total)))

    # then
    size = path.stat().st_size
    assert calls == [("reading", size, size), ("writing orders", 2, 2), ("writing items", 2, 2)]


def test_an_unwritable_report_path_is_refused_before_writing(tmp_path):
    # given: the report path is an existing folder
    path = _write(tmp_path, ["536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.0,,UK"])
    (tmp_path / "folder").mkdir()

    # when
    with pytest.raises(CommandError, match="folder cannot be written"):
        call_command("import_transactions", str(path), "--report", str(tmp_path / "folder"))

    # then
    assert set(_store_counts().values()) == {0}
