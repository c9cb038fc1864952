"""Event rows and the weighted, time-decayed users x items matrix built from them.

A cell of the matrix is the sum over the user's events on the item of

    event weight x quantity x 0.5 ** (age_days / half_life_days)

with the age measured back from ``reference_time`` (default: the newest event). Returns are
netted out (``returns="subtract"``, the default): a return row carries the purchase weight
and is subtracted from its (user, item) cell, and every cell whose net weight is zero or
negative is removed, so an item bought and fully returned is not a positive signal. With
``returns="ignore"`` return rows are simply dropped. A row is a return when its event type is
``"return"`` or its ``is_return`` flag is set (a cancelled invoice line, say).

``transform="log1p"`` then applies ``log(1 + w)`` to each net cell, which keeps bulk buyers
(a wholesale order of 1,000 units) from drowning every other signal.

The matrix is built with ``scipy.sparse.coo_matrix`` (duplicates summed); nothing dense of
size users x items is ever allocated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import sparse

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "EventRows",
    "interaction_matrix",
    "to_seconds",
]

#: Implicit-feedback weights: a purchase says more than a cart, a cart more than a view.
DEFAULT_EVENT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"view": 1.0, "click": 1.0, "cart": 3.0, "purchase": 5.0}
)
RETURN_EVENT = "return"
SECONDS_PER_DAY = 86_400.0


def to_seconds(values: Any) -> np.ndarray:
    """POSIX seconds (float64) from numbers, ``datetime64`` values or aware datetimes.

    Naive ``datetime`` objects are refused: their meaning depends on the machine's zone.
    """
    array = np.asarray(values)
    if array.dtype.kind == "M":
        return array.astype("datetime64[us]").astype(np.int64) / 1e6
    if array.dtype.kind in "iuf":
        return array.astype(np.float64)
    flat = array.ravel()
    out = np.empty(flat.size, np.float64)
    for position, value in enumerate(flat):
        if isinstance(value, dt.datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError("naive datetime in timestamps; pass aware datetimes")
            out[position] = value.timestamp()
        elif isinstance(value, np.datetime64):
            out[position] = value.astype("datetime64[us]").astype(np.int64) / 1e6
        else:
            out[position] = float(value)
    return out.reshape(array.shape)


@dataclass(frozen=True, eq=False)
class EventRows:
    """Interaction events as parallel columns (one entry per event).

    ``timestamps`` are POSIX seconds; ``quantities`` default to 1; ``is_return`` defaults to
    ``event_types == "return"``.
    """

    users: np.ndarray
    items: np.ndarray
    event_types: np.ndarray
    timestamps: np.ndarray
    quantities: np.ndarray
    is_return: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        users: Sequence[int] | np.ndarray,
        items: Sequence[int] | np.ndarray,
        timestamps: Any,
        event_types: str | Sequence[str] | np.ndarray = "purchase",
        quantities: Sequence[float] | np.ndarray | None = None,
        is_return: Sequence[bool] | np.ndarray | None = None,
    ) -> EventRows:
        users_array = np.asarray(users, dtype=np.int64).ravel()
        n = users_array.size
        items_array = np.asarray(items, dtype=np.int64).ravel()
        seconds = to_seconds(timestamps).ravel()
        if isinstance(event_types, str):
            types = np.full(n, event_types, dtype=object)
        else:
            types = np.asarray(event_types, dtype=object).ravel()
        quantity = np.ones(n) if quantities is None else np.asarray(quantities, np.float64).ravel()
        returns = types == RETURN_EVENT
        if is_return is not None:
            returns = returns | np.asarray(is_return, dtype=bool).ravel()
        lengths = {items_array.size, seconds.size, types.size, quantity.size, returns.size}
        if lengths != {n}:
            raise ValueError("event columns have different lengths")
        if n and (users_array.min() < 0 or items_array.min() < 0):
            raise ValueError("user and item indices must be non-negative")
        if not np.all(np.isfinite(seconds)) or not np.all(np.isfinite(quantity)):
            raise ValueError("timestamps and quantities must be finite")
        return cls(users_array, items_array, types, seconds, quantity, np.asarray(returns, bool))

    @classmethod
    def from_records(cls, records: Iterable[Sequence[Any]]) -> EventRows:
        """From ``(user, item, event_type, timestamp[, quantity])`` tuples."""
        rows = list(records)
        if not rows:
            return cls.from_arrays([], [], np.array([], np.float64), [], [])
        columns = list(zip(*(row if len(row) == 5 else (*row, 1.0) for row in rows), strict=True))
        users, items, types, times, quantities = columns
        return cls.from_arrays(users, items, list(times), list(types), quantities)

    def __len__(self) -> int:
        return int(self.users.size)

    def subset(self, selector: np.ndarray) -> EventRows:
        """The rows picked by a boolean mask or an index array."""
        return EventRows(
            self.users[selector],
            self.items[selector],
            self.event_types[selector],
            self.timestamps[selector],
            self.quantities[selector],
            self.is_return[selector],
        )


def interaction_matrix(
    rows: EventRows,
    *,
    n_users: int,
    n_items: int,
    event_weights: Mapping[str, float] | None = None,
    half_life_days: float | None = None,
    reference_time: Any = None,
    returns: str = "subtract",
    transform: str | None = None,
) -> sparse.csr_matrix:
    """Weighted implicit-feedback CSR matrix (``n_users x n_items``, float64).

    Parameters
    ----------
    rows : EventRows
    n_users, n_items : int
        Matrix shape (indices in ``rows`` must be below them).
    event_weights : mapping, optional
        Weight per event type; default :data:`DEFAULT_EVENT_WEIGHTS`. A ``"return"`` row
        uses ``event_weights["return"]`` if given, else the purchase weight. An event type
        without a weight raises ``ValueError``.
    half_life_days : float, optional
        Exponential decay: an event this many days older than ``reference_time`` counts
        half. ``None`` means no decay. Events after ``reference_time`` count fully.
    reference_time : number, datetime64 or aware datetime, optional
        Time the ages are measured from; default the newest event in ``rows``.
    returns : {"subtract", "ignore"}
        Net returns out of their cells (cells <= 0 removed), or drop return rows.
    transform : {None, "log1p"}
        Applied to every net cell.
    """
    if returns not in {"subtract", "ignore"}:
        raise ValueError("returns must be 'subtract' or 'ignore'")
    if transform not in {None, "log1p"}:
        raise ValueError("transform must be None or 'log1p'")
    if half_life_days is not None and half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    weights_by_type = dict(DEFAULT_EVENT_WEIGHTS if event_weights is None else event_weights)
    if "purchase" in weights_by_type:
        weights_by_type.setdefault(RETURN_EVENT, weights_by_type["purchase"])
    if len(rows) and (rows.users.max() >= n_users or rows.items.max() >= n_items):
        raise ValueError("an event's user or item index is outside the matrix shape")

    kinds, codes = np.unique(rows.event_types.astype(str), return_inverse=True)
    missing = [kind for kind in kinds if kind not in weights_by_type]
    if missing:
        raise ValueError(f"no weight for event types {missing}")
    type_weight = np.array([weights_by_type[kind] for kind in kinds], np.float64)
    weight = type_weight[codes.ravel()] * np.abs(rows.quantities) if len(rows) else np.zeros(0)
    # A return flagged on a purchase-typed row (a cancelled invoice line) undoes a purchase.
    flagged = rows.is_return & (rows.event_types != RETURN_EVENT)
    if flagged.any():
        weight[flagged] = weights_by_type.get(RETURN_EVENT, 0.0) * np.abs(rows.quantities[flagged])

    if half_life_days is not None and len(rows):
        reference = (
            rows.timestamps.max()
            if reference_time is None
            else float(to_seconds(np.array([reference_time], dtype=object))[0])
        )
        age_days = np.maximum(reference - rows.timestamps, 0.0) / SECONDS_PER_DAY
        weight = weight * np.exp2(-age_days / half_life_days)

    if returns == "subtract":
        weight = np.where(rows.is_return, -weight, weight)
        keep = np.ones(len(rows), bool)
    else:
        keep = ~rows.is_return
    matrix = sparse.coo_matrix(
        (weight[keep], (rows.users[keep], rows.items[keep])), shape=(n_users, n_items)
    ).tocsr()
    matrix.sum_duplicates()
    # Net non-positive cells (fully returned, or returned more than bought in the window)
    # carry no preference: drop them rather than keep a negative implicit weight.
    matrix.data[matrix.data <= 0] = 0.0
    matrix.eliminate_zeros()
    if transform == "log1p":
        matrix.data = np.log1p(matrix.data)
    matrix.sort_indices()
    return matrix
