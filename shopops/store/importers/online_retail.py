"""Import of the UCI "Online Retail" transactions file (format ``online-retail``).

The import runs in two phases so that a file that is not in this format writes nothing:

1. ``online_retail_parse`` reads the whole file into plain Python structures: one draft per
   invoice, per-SKU and per-customer statistics, and every rejected line with its reason. A file
   that cannot be read as this format (missing, empty, not gzip, wrong header) raises
   ``ImportFileError`` before the database is touched.
2. ``transactions_import`` writes the drafts in ONE transaction: products and customers with
   ``bulk_create`` (a few thousand), orders and items with COPY on PostgreSQL (``bulk_create`` on
   other backends), and records an ``ImportRun``.

Rules:

- all lines of one InvoiceNo form one order; an InvoiceNo starting with ``C`` is a cancellation
  and becomes an order with status ``returned`` whose items carry the absolute quantity;
- a line without CustomerID belongs to a guest order (customer null);
- postage, fees, manual adjustments, charity and gift vouchers (``NON_PRODUCT_CODES`` and codes
  starting with ``gift_``) are not products: their lines are rejected with their own reason, as
  are zero and negative prices and negative quantities on sale invoices (stock adjustments);
- a stock code becomes one product whatever its descriptions: sku is the code upper-cased, name
  the most frequent non-empty description, price the most frequent unit price;
- re-running a file changes nothing: orders whose external_number exists are skipped, products
  and customers are looked up by sku / external_id and reused.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from shopops.store.models import Customer, ImportRun, Order, OrderItem, Product

if TYPE_CHECKING:
    from psycopg import sql as psycopg_sql

FORMAT_ONLINE_RETAIL = "online-retail"
FILE_FORMATS = (FORMAT_ONLINE_RETAIL,)

EXPECTED_HEADER = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)

#: Stock codes that are charges, fees or adjustments rather than goods (compared upper-cased,
#: so "M" and "m" are both manual adjustments). Codes such as DCGS0003 are real products.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}
)
#: Gift vouchers: gift_0001_10, gift_0001_20 ...
GIFT_VOUCHER_PREFIX = "GIFT_"

CANCELLATION_PREFIX = "C"
CURRENCY = "GBP"

# Column limits of the models the values land in.
_MAX_CODE_LENGTH = 64  # Order.external_number, Product.sku, Customer.external_id, countries
_MAX_NAME_LENGTH = 255  # Product.name
_MAX_QUANTITY = 2_147_483_647  # PositiveIntegerField

# Strict formats: int()/Decimal()/fromisoformat() alone would accept "1_000", "1e3", "2010-12-01".
_QUANTITY_RE = re.compile(r"-?\d{1,10}")
_PRICE_RE = re.compile(r"-?\d{1,9}(?:\.\d{1,3})?")  # Product.price: 12 digits, 3 decimals
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_CUSTOMER_RE = re.compile(r"(\d{1,64})(?:\.0+)?")

_CENT = Decimal("0.01")
_QUERY_CHUNK = 1000  # values per "IN (...)" look-up: well under SQLite's variable limit
_BATCH_SIZE = 2000  # bulk_create batch size
_PROGRESS_EVERY = 20_000  # lines or rows between progress calls

STAGE_READ = "reading"  # done/total in bytes of the file on disk
STAGE_ORDERS = "writing orders"  # done/total in orders
STAGE_ITEMS = "writing items"  # done/total in order items


class RejectReason:
    """Why a line was left out; the keys of ``ImportRun.rejected_by_reason``."""

    NOT_UTF8 = "not UTF-8 text"
    NUL_BYTE = "NUL byte in line"
    UNTERMINATED_QUOTE = "unterminated quoted field"
    FIELD_COUNT = "wrong field count"
    EMPTY_INVOICE = "empty invoice number"
    EMPTY_STOCK_CODE = "empty stock code"
    FIELD_TOO_LONG = "field too long"
    BAD_QUANTITY = "unparsable quantity"
    BAD_DATE = "unparsable invoice date"
    BAD_PRICE = "unparsable unit price"
    BAD_CUSTOMER = "unparsable customer id"
    NON_PRODUCT = "non-product code"
    ZERO_PRICE = "zero price"
    NEGATIVE_PRICE = "negative price"
    ZERO_QUANTITY = "zero quantity"
    STOCK_ADJUSTMENT = "negative quantity on a sale invoice (stock adjustment)"
    POSITIVE_CANCELLATION = "positive quantity on a cancellation"
    CONFLICTING_CUSTOMER = "customer differs from the rest of the invoice"


class ImportFileError(Exception):
    """The file cannot be imported at all (missing, empty, not this format); nothing written."""


class ImportProgress(Protocol):
    """Receives progress: ``stage`` is one of the ``STAGE_*`` names, ``done`` of ``total``.

    Stages come in order (reading, writing orders, writing items); each ends with exactly one
    call where ``done == total``.
    """

    def __call__(self, stage: str, done: int, total: int) -> None: ...


@dataclass(frozen=True, slots=True)
class RejectedLine:
    line_number: int  # in the file, the header being line 1
    reason: str
    raw: str


@dataclass(slots=True)
class OrderDraft:
    external_number: str
    is_return: bool
    customer_external_id: str | None
    country: str
    placed_at: datetime
    # (sku, quantity > 0, unit price > 0)
    items: list[tuple[str, int, Decimal]] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum(
            (unit_price * quantity for _, quantity, unit_price in self.items), Decimal(0)
        ).quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ProductDraft:
    sku: str
    name: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class CustomerDraft:
    external_id: str
    country: str
    first_seen_at: datetime


@dataclass(slots=True)
class ParsedFile:
    lines_read: int
    orders: dict[str, OrderDraft]
    products: dict[str, ProductDraft]
    customers: dict[str, CustomerDraft]
    rejected: list[RejectedLine]

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        counts = Counter(line.reason for line in self.rejected)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@dataclass(slots=True)
class ImportCounts:
    """What one import wrote; attached to the returned run as ``run.counts``."""

    orders_created: int = 0
    returns_created: int = 0
    guest_orders_created: int = 0
    orders_skipped: int = 0
    customers_created: int = 0
    products_created: int = 0
    items_created: int = 0


# --- phase 1: parsing --------------------------------------------------------------------------


def _is_gzip_name(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def _file_stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "import"


def _most_frequent(counter: Counter) -> object:
    # Counter.most_common keeps first-seen order among equal counts: ties go to the value met
    # first in the file, so the result does not depend on hashing.
    return counter.most_common(1)[0][0]


class _LineParser:
    """Turns data records into order drafts and statistics; keeps rejected lines."""

    def __init__(self) -> None:
        self.lines_read = 0
        self.orders: dict[str, OrderDraft] = {}
        self.rejected: list[RejectedLine] = []
        # sku -> (descriptions, unit prices); external id -> [countries, first seen]
        self.product_stats: dict[str, tuple[Counter, Counter]] = {}
        self.customer_stats: dict[str, tuple[Counter, list[datetime]]] = {}
        # Parsed values repeat a lot (a few thousand prices, ~23k timestamps, ~4k customers
        # for half a million lines): cache them. None marks an unparsable text.
        self._quantities: dict[str, int | None] = {}
        self._dates: dict[str, datetime | None] = {}
        self._prices: dict[str, Decimal | None] = {}
        self._customers: dict[str, str | None] = {}

    def reject(self, line_number: int, reason: str, raw: str) -> None:
        self.rejected.append(RejectedLine(line_number, reason, raw))

    def _quantity(self, text: str) -> int | None:
        try:
            return self._quantities[text]
        except KeyError:
            pass
        value = int(text) if _QUANTITY_RE.fullmatch(text.strip()) else None
        if value is not None and abs(value) > _MAX_QUANTITY:
            value = None
        self._quantities[text] = value
        return value

    def _date(self, text: str) -> datetime | None:
        try:
            return self._dates[text]
        except KeyError:
            pass
        value = None
        if _DATE_RE.fullmatch(text.strip()):
            try:
                value = datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
            except ValueError:  # e.g. month 13
                value = None
        self._dates[text] = value
        return value

    def _price(self, text: str) -> Decimal | None:
        try:
            return self._prices[text]
        except KeyError:
            pass
        value = Decimal(text.strip()) if _PRICE_RE.fullmatch(text.strip()) else None
        self._prices[text] = value
        return value

    def _customer(self, text: str) -> str | None:
        try:
            return self._customers[text]
        except KeyError:
            pass
        match = _CUSTOMER_RE.fullmatch(text)
        value = match.group(1) if match else None
        self._customers[text] = value
        return value

    def record(self, record: str, line_number: int) -> None:
        """Parse one data record (one line, or several joined for a quoted newline)."""
        if not record or record.isspace():
            return  # blank lines (a trailing newline, an editor's extra line) are not data
        self.lines_read += 1
        if "\x00" in record:
            self.reject(line_number, RejectReason.NUL_BYTE, record.replace("\x00", "\\0"))
            return
        fields = record.split(",") if '"' not in record else next(csv.reader((record,)))
        if len(fields) != len(EXPECTED_HEADER):
            self.reject(line_number, RejectReason.FIELD_COUNT, record)
            return
        invoice, code, description, quantity_text, date_text, price_text, customer_text, country = (
            fields
        )
        # Only the fields used as they are get stripped here; the parsers of the others strip
        # inside their caches.
        invoice, code, country = invoice.strip(), code.strip(), country.strip()
        customer_text = customer_text.strip()
        if not invoice:
            self.reject(line_number, RejectReason.EMPTY_INVOICE, record)
            return
        if not code:
            self.reject(line_number, RejectReason.EMPTY_STOCK_CODE, record)
            return
        if max(len(invoice), len(code), len(customer_text), len(country)) > _MAX_CODE_LENGTH:
            self.reject(line_number, RejectReason.FIELD_TOO_LONG, record)
            return
        quantity = self._quantity(quantity_text)
        if quantity is None:
            self.reject(line_number, RejectReason.BAD_QUANTITY, record)
            return
        placed_at = self._date(date_text)
        if placed_at is None:
            self.reject(line_number, RejectReason.BAD_DATE, record)
            return
        price = self._price(price_text)
        if price is None:
            self.reject(line_number, RejectReason.BAD_PRICE, record)
            return
        customer = None
        if customer_text:
            customer = self._customer(customer_text)
            if customer is None:
                self.reject(line_number, RejectReason.BAD_CUSTOMER, record)
                return
        sku = code.upper()
        if sku in NON_PRODUCT_CODES or sku.startswith(GIFT_VOUCHER_PREFIX):
            self.reject(line_number, RejectReason.NON_PRODUCT, record)
            return
        # The quantity's sign is checked before the price: a stock adjustment ("damaged",
        # "lost") usually has a zero price too, and is the more telling reason.
        is_return = invoice.startswith(CANCELLATION_PREFIX)
        if quantity == 0:
            self.reject(line_number, RejectReason.ZERO_QUANTITY, record)
            return
        if quantity < 0 and not is_return:
            self.reject(line_number, RejectReason.STOCK_ADJUSTMENT, record)
            return
        if quantity > 0 and is_return:
            self.reject(line_number, RejectReason.POSITIVE_CANCELLATION, record)
            return
        if price <= 0:
            reason = RejectReason.ZERO_PRICE if price == 0 else RejectReason.NEGATIVE_PRICE
            self.reject(line_number, reason, record)
            return

        draft = self.orders.get(invoice)
        if draft is None:
            draft = OrderDraft(invoice, is_return, customer, country, placed_at)
            self.orders[invoice] = draft
        elif draft.customer_external_id != customer:
            # Attributing the line to either customer would be a guess.
            self.reject(line_number, RejectReason.CONFLICTING_CUSTOMER, record)
            return
        elif placed_at < draft.placed_at:
            draft.placed_at = placed_at  # an invoice can straddle a minute: keep the first
        draft.items.append((sku, abs(quantity), price))

        stats = self.product_stats.get(sku)
        if stats is None:
            stats = self.product_stats[sku] = (Counter(), Counter())
        description = description.strip()
        if description:
            stats[0][description] += 1
        stats[1][price] += 1
        if customer is not None:
            seen = self.customer_stats.get(customer)
            if seen is None:
                seen = self.customer_stats[customer] = (Counter(), [placed_at])
            elif placed_at < seen[1][0]:
                seen[1][0] = placed_at
            if country:
                seen[0][country] += 1

    def result(self) -> ParsedFile:
        products = {
            sku: ProductDraft(
                sku=sku,
                name=str(_most_frequent(descriptions))[:_MAX_NAME_LENGTH] if descriptions else sku,
                price=_most_frequent(prices),  # type: ignore[arg-type]
            )
            for sku, (descriptions, prices) in self.product_stats.items()
        }
        customers = {
            external_id: CustomerDraft(
                external_id=external_id,
                country=str(_most_frequent(countries)) if countries else "",
                first_seen_at=first_seen[0],
            )
            for external_id, (countries, first_seen) in self.customer_stats.items()
        }
        return ParsedFile(
            lines_read=self.lines_read,
            orders=self.orders,
            products=products,
            customers=customers,
            rejected=self.rejected,
        )


def _records(lines: Iterable[bytes], parser: _LineParser) -> Iterator[tuple[str, int]]:
    """Yield (record, first line number) from the data lines, the header being line 1.

    A quoted field may hold a newline: a line with an odd number of quotes is joined with the
    next ones until the quotes balance. Lines that are not UTF-8 are rejected on the spot.
    """
    line_number = 1
    parts: list[str] = []
    quotes = 0
    start = 0
    for raw_line in lines:
        line_number += 1
        try:
            text = raw_line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            text = raw_line.decode("utf-8", "replace").rstrip("\r\n")
            if parts:
                parser.reject(start, RejectReason.NOT_UTF8, "\n".join([*parts, text]))
                parts = []
            else:
                parser.reject(line_number, RejectReason.NOT_UTF8, text)
            parser.lines_read += 1
            continue
        if parts:
            parts.append(text)
            quotes += text.count('"')
            if quotes % 2:
                continue
            record, parts = "\n".join(parts), []
            yield record, start
        elif '"' in text and text.count('"') % 2:
            parts, quotes, start = [text], text.count('"'), line_number
        else:
            yield text, line_number
    if parts:
        parser.lines_read += 1
        parser.reject(start, RejectReason.UNTERMINATED_QUOTE, "\n".join(parts))


def _header_check(path: Path, raw_header: bytes | None) -> None:
    if raw_header is None or not raw_header.strip():
        raise ImportFileError(f"{path} is empty.")
    if raw_header.startswith(b"\x1f\x8b"):
        raise ImportFileError(f"{path} is gzip-compressed; name it with a .csv.gz suffix.")
    expected = ",".join(EXPECTED_HEADER)
    try:
        text = raw_header.decode("utf-8-sig").strip()
        header = tuple(name.strip() for name in next(csv.reader((text,))))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        header = ()
    if header != EXPECTED_HEADER:
        raise ImportFileError(
            f"{path} is not an Online Retail file: its first line must be the header {expected}."
        )


def online_retail_parse(*, path: Path, progress: ImportProgress | None = None) -> ParsedFile:
    """Read and check the whole file; raise ``ImportFileError`` if it is not this format."""
    if not path.is_file():
        raise ImportFileError(f"{path} does not exist or is not a file.")
    if path.suffix.lower() == ".xlsx":
        raise ImportFileError(f"{path}: .xlsx is not supported; export the sheet as .csv.")
    if not (path.name.lower().endswith(".csv") or path.name.lower().endswith(".csv.gz")):
        raise ImportFileError(f"{path} is neither a .csv nor a .csv.gz file.")
    parser = _LineParser()
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"{path} cannot be read ({exc.strerror}).") from exc
    with raw:
        size = path.stat().st_size
        if size == 0:
            raise ImportFileError(f"{path} is empty.")
        stream: IO[bytes] = raw
        if _is_gzip_name(path):
            # GzipFile.readline is pure Python; a BufferedReader on top splits lines in C and
            # reads the gzip stream in large blocks: about half the time to split the lines.
            stream = io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), 1 << 20)
        try:
            lines = iter(stream)
            _header_check(path, next(lines, None))
            for count, (record, line_number) in enumerate(_records(lines, parser), start=1):
                parser.record(record, line_number)
                if progress is not None and count % _PROGRESS_EVERY == 0 and raw.tell() < size:
                    progress(STAGE_READ, raw.tell(), size)
        except gzip.BadGzipFile as exc:
            raise ImportFileError(f"{path} is not a valid gzip file ({exc}).") from exc
        except (EOFError, zlib.error) as exc:
            raise ImportFileError(f"{path} is a truncated or corrupt gzip file ({exc}).") from exc
    if progress is not None:
        progress(STAGE_READ, size, size)
    if parser.lines_read == 0:
        raise ImportFileError(f"{path} has a header but no data lines.")
    return parser.result()


# --- phase 2: writing --------------------------------------------------------------------------

_T = TypeVar("_T")


def _chunks(values: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _ids_by_key(model: type, key: str, values: Sequence[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(values, _QUERY_CHUNK):
        ids.update(model.objects.filter(**{f"{key}__in": chunk}).values_list(key, "id"))
    return ids


def _products_ensure(drafts: dict[str, ProductDraft], skus: set[str]) -> tuple[dict[str, int], int]:
    """Return sku -> id for ``skus``, creating the missing products; and how many were created."""
    ids = _ids_by_key(Product, "sku", sorted(skus))
    missing = [
        Product(sku=sku, name=drafts[sku].name, price=drafts[sku].price, currency=CURRENCY)
        for sku in sorted(skus - ids.keys())
    ]
    Product.objects.bulk_create(missing, batch_size=_BATCH_SIZE)
    if any(product.pk is None for product in missing):  # backends without RETURNING
        ids = _ids_by_key(Product, "sku", sorted(skus))
    else:
        ids.update((product.sku, product.pk) for product in missing)
    return ids, len(missing)


def _customers_ensure(
    drafts: dict[str, CustomerDraft], external_ids: set[str]
) -> tuple[dict[str, int], int]:
    """Return external id -> id, creating the missing customers; and how many were created."""
    ids = _ids_by_key(Customer, "external_id", sorted(external_ids))
    missing = [
        Customer(
            external_id=external_id,
            country=drafts[external_id].country,
            first_seen_at=drafts[external_id].first_seen_at,
        )
        for external_id in sorted(external_ids - ids.keys())
    ]
    Customer.objects.bulk_create(missing, batch_size=_BATCH_SIZE)
    if any(customer.pk is None for customer in missing):
        ids = _ids_by_key(Customer, "external_id", sorted(external_ids))
    else:
        ids.update((customer.external_id, customer.pk) for customer in missing)
    return ids, len(missing)


def _order_values(draft: OrderDraft, customer_ids: dict[str, int]) -> dict[str, object]:
    return {
        "external_number": draft.external_number,
        "customer_id": (
            customer_ids[draft.customer_external_id] if draft.customer_external_id else None
        ),
        "status": Order.Status.RETURNED if draft.is_return else Order.Status.PAID,
        "placed_at": draft.placed_at,
        "email": "",
        "country": draft.country,
        "currency": CURRENCY,
        "item_count": len(draft.items),
        "total": draft.total,
    }


def _copy_sql(model: type, field_names: Sequence[str]) -> psycopg_sql.Composed:
    """``COPY <table> (<columns>) FROM STDIN`` for the given field names (or attnames)."""
    from psycopg import sql  # imported here: psycopg is only needed on PostgreSQL

    meta = model._meta
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(meta.db_table),
        sql.SQL(", ").join(sql.Identifier(meta.get_field(name).column) for name in field_names),
    )


def _orders_write_postgresql(
    drafts: list[OrderDraft], customer_ids: dict[str, int], progress: ImportProgress | None
) -> dict[str, int]:
    """COPY the orders; return external number -> id.

    The ids are taken from the table's own sequence beforehand, so COPY can write them and no
    read-back is needed; concurrent inserts draw different values from the same sequence.
    """
    if not drafts:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Order._meta.db_table, len(drafts)],
        )
        new_ids = [row[0] for row in cursor.fetchall()]
    columns = ["id", *_order_values(drafts[0], customer_ids)]
    ids: dict[str, int] = {}
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(_copy_sql(Order, columns)) as copy,
    ):
        for done, (order_id, draft) in enumerate(zip(new_ids, drafts, strict=True), start=1):
            copy.write_row((order_id, *_order_values(draft, customer_ids).values()))
            ids[draft.external_number] = order_id
            if progress is not None and done % _PROGRESS_EVERY == 0 and done < len(drafts):
                progress(STAGE_ORDERS, done, len(drafts))
    return ids


def _orders_write_bulk(
    drafts: list[OrderDraft], customer_ids: dict[str, int], progress: ImportProgress | None
) -> dict[str, int]:
    orders = [Order(**_order_values(draft, customer_ids)) for draft in drafts]
    for done, batch in enumerate(_chunks(orders, _BATCH_SIZE), start=1):
        Order.objects.bulk_create(batch)
        if progress is not None and done * _BATCH_SIZE < len(orders):
            progress(STAGE_ORDERS, done * _BATCH_SIZE, len(orders))
    if any(order.pk is None for order in orders):
        return _ids_by_key(Order, "external_number", [d.external_number for d in drafts])
    return {order.external_number: order.pk for order in orders}


def _item_rows(
    drafts: list[OrderDraft], order_ids: dict[str, int], product_ids: dict[str, int]
) -> Iterator[tuple[int, int, int, Decimal]]:
    for draft in drafts:
        order_id = order_ids[draft.external_number]
        for sku, quantity, unit_price in draft.items:
            yield order_id, product_ids[sku], quantity, unit_price


def _items_write(
    drafts: list[OrderDraft],
    order_ids: dict[str, int],
    product_ids: dict[str, int],
    progress: ImportProgress | None,
) -> int:
    total = sum(len(draft.items) for draft in drafts)
    if total == 0:
        return 0
    rows = _item_rows(drafts, order_ids, product_ids)
    done = 0
    if connection.vendor == "postgresql":
        columns = ["order_id", "product_id", "quantity", "unit_price"]
        with (
            connection.connection.cursor() as cursor,
            cursor.copy(_copy_sql(OrderItem, columns)) as copy,
        ):
            for row in rows:
                copy.write_row(row)
                done += 1
                if progress is not None and done % _PROGRESS_EVERY == 0 and done < total:
                    progress(STAGE_ITEMS, done, total)
    else:
        items = [
            OrderItem(
                order_id=order_id, product_id=product_id, quantity=quantity, unit_price=unit_price
            )
            for order_id, product_id, quantity, unit_price in rows
        ]
        for batch in _chunks(items, _BATCH_SIZE):
            OrderItem.objects.bulk_create(batch)
            done += len(batch)
            if progress is not None and done < total:
                progress(STAGE_ITEMS, done, total)
    return done


def _parsed_file_write(parsed: ParsedFile, progress: ImportProgress | None) -> ImportCounts:
    """Write the parsed file. Call inside ``transaction.atomic``."""
    counts = ImportCounts()
    if connection.vendor == "postgresql":
        # Two imports at once would both see an invoice as new and the second would fail on
        # the unique external_number at commit: make them queue instead. Released at commit.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('shopops.transactions_import'))")
    existing = _ids_by_key(Order, "external_number", list(parsed.orders))
    drafts = [draft for number, draft in parsed.orders.items() if number not in existing]
    counts.orders_skipped = len(parsed.orders) - len(drafts)

    product_ids, counts.products_created = _products_ensure(
        parsed.products, {sku for draft in drafts for sku, _, _ in draft.items}
    )
    customer_ids, counts.customers_created = _customers_ensure(
        parsed.customers,
        {draft.customer_external_id for draft in drafts if draft.customer_external_id},
    )
    if connection.vendor == "postgresql":
        order_ids = _orders_write_postgresql(drafts, customer_ids, progress)
    else:
        order_ids = _orders_write_bulk(drafts, customer_ids, progress)
    if progress is not None:
        progress(STAGE_ORDERS, len(drafts), len(drafts))
    counts.items_created = _items_write(drafts, order_ids, product_ids, progress)
    if progress is not None:
        progress(STAGE_ITEMS, counts.items_created, counts.items_created)

    counts.orders_created = len(drafts)
    counts.returns_created = sum(draft.is_return for draft in drafts)
    counts.guest_orders_created = sum(draft.customer_external_id is None for draft in drafts)
    return counts


def _report_write(rejected: list[RejectedLine], report_path: Path) -> None:
    report_path.parent.mkdir(parents=True, exist_ok=True)
    with report_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "reason", "raw"])
        writer.writerows((line.line_number, line.reason, line.raw) for line in rejected)


def _default_report_path(path: Path) -> Path:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    directory = Path(settings.IMPORT_REPORT_DIR)
    candidate = directory / f"{_file_stem(path)}-{stamp}.csv"
    suffix = 2
    while candidate.exists():  # two runs within one second keep both reports
        candidate = directory / f"{_file_stem(path)}-{stamp}-{suffix}.csv"
        suffix += 1
    return candidate


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def transactions_import(
    *,
    path: Path | str,
    file_format: str,
    report_path: Path | str | None = None,
    progress: ImportProgress | None = None,
) -> ImportRun:
    """Import a transactions file; return its ``ImportRun`` (with ``run.counts`` attached).

    Raises ``ImportFileError`` with one readable sentence, before writing anything (no run
    row either), when the file is missing, empty or not in ``file_format``. Bad lines in a good
    file are rejected, listed in the CSV report (written when a line was rejected or
    ``report_path`` is given; default under ``settings.IMPORT_REPORT_DIR``) and counted by
    reason. The data is written in one transaction; the run row is written outside it, so that
    if the data transaction fails the run is still recorded as failed (and the error
    re-raised). Running the same file again creates nothing.
    """
    if file_format not in FILE_FORMATS:
        raise ImportFileError(
            f"Unknown file format {file_format!r}; supported: {', '.join(FILE_FORMATS)}."
        )
    path = Path(path)
    parsed = online_retail_parse(path=path, progress=progress)

    report: Path | None = None
    if parsed.rejected or report_path is not None:
        report = Path(report_path) if report_path is not None else _default_report_path(path)
        try:
            _report_write(parsed.rejected, report)
        except OSError as exc:
            raise ImportFileError(f"The report {report} cannot be written ({exc}).") from exc

    run = ImportRun.objects.create(
        file_name=str(path)[-500:],
        file_sha256=_file_sha256(path),
        file_format=file_format,
        lines_read=parsed.lines_read,
        rejected_by_reason=parsed.rejected_by_reason,
        report_path=str(report or "")[-500:],
    )
    try:
        with transaction.atomic():
            counts = _parsed_file_write(parsed, progress)
    except Exception as exc:
        run.status = ImportRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        raise
    run.status = ImportRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.orders_created = counts.orders_created
    run.items_created = counts.items_created
    run.customers_created = counts.customers_created
    run.products_created = counts.products_created
    run.returns_created = counts.returns_created
    run.guest_orders_created = counts.guest_orders_created
    run.orders_skipped = counts.orders_skipped
    run.save()
    run.counts = counts
    return run
