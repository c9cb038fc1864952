"""Loading public interaction data sets into :class:`EventRows` (benchmarks and commands).

- UCI Online Retail (``online_retail.csv.gz`` or plain ``.csv``): one row per invoice line of
  a known customer for a real product (postage, fees, manual adjustments, charity and gift
  vouchers dropped) with a positive unit price; lines of a cancelled invoice (InvoiceNo
  starting with C) are returns, netted out when the matrix is built.
- MovieLens: ``ratings.csv`` (``userId,movieId,rating,timestamp`` with a header) or ``u.data``
  (tab-separated, no header); every rating is one interaction.

Each loader returns ``(rows, user_ids, item_ids, item_texts)``: indices in ``rows`` point into
the id lists, and ``item_texts`` holds one text per item (for content-based models).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import IO

import numpy as np

from .interactions import EventRows

__all__ = ["NON_PRODUCT_CODES", "load_movielens", "load_online_retail"]

# Postage, fees, manual adjustments, charity: lines that are not products.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}
)
GIFT_VOUCHER_PREFIX = "GIFT_"

Loaded = tuple[EventRows, list[str], list[str], list[str]]


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def load_online_retail(path: str | Path) -> Loaded:
    """Purchases and returns as EventRows, with customer ids, stock codes and item texts."""
    customers: dict[str, int] = {}
    items: dict[str, int] = {}
    descriptions: dict[str, str] = {}
    users, products, times, returns = [], [], [], []
    with _open_text(Path(path)) as handle:
        for line in csv.DictReader(handle):
            customer = line["CustomerID"].strip()
            code = line["StockCode"].strip().upper()
            if not customer or code in NON_PRODUCT_CODES or code.startswith(GIFT_VOUCHER_PREFIX):
                continue
            if float(line["UnitPrice"]) <= 0:
                continue
            quantity = int(line["Quantity"])
            is_return = line["InvoiceNo"].startswith("C")
            if quantity == 0 or (not is_return and quantity < 0):
                continue
            users.append(customers.setdefault(customer, len(customers)))
            products.append(items.setdefault(code, len(items)))
            times.append(line["InvoiceDate"])
            returns.append(is_return)
            description = line["Description"].strip()
            if description:
                # The first description seen (the file is in time order): choosing the most
                # common one would let test-period lines pick the training text.
                descriptions.setdefault(code, description)
    texts = [descriptions.get(code, code) for code in items]
    rows = EventRows.from_arrays(
        users,
        products,
        np.array(times, dtype="datetime64[s]"),
        "purchase",
        # One line, one unit of preference (wholesale quantities would drown other signals).
        quantities=None,
        is_return=returns,
    )
    return rows, list(customers), list(items), texts


def load_movielens(path: str | Path) -> Loaded:
    """Ratings as purchase-like interactions (``ratings.csv`` or tab-separated ``u.data``)."""
    path = Path(path)
    users_seen: dict[str, int] = {}
    items_seen: dict[str, int] = {}
    users, items, times = [], [], []
    with _open_text(path) as handle:
        first = handle.readline()
        delimiter = "\t" if "\t" in first else ","
        lines = csv.reader(handle, delimiter=delimiter)
        header = [cell.strip().lower() for cell in first.rstrip("\r\n").split(delimiter)]
        records = lines if header and not header[0].isdigit() else _chain(header, lines)
        for record in records:
            if len(record) < 4:
                continue
            user, item, _rating, timestamp = (cell.strip() for cell in record[:4])
            users.append(users_seen.setdefault(user, len(users_seen)))
            items.append(items_seen.setdefault(item, len(items_seen)))
            times.append(float(timestamp))
    rows = EventRows.from_arrays(users, items, np.asarray(times, np.float64), "purchase")
    item_ids = list(items_seen)
    return rows, list(users_seen), item_ids, [f"item {item}" for item in item_ids]


def _chain(first: list[str], rest):
    yield first
    yield from rest
