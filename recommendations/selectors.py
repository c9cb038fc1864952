"""Reads for the recommender: the interaction rows training needs, and every serving list.

Serving is a lookup of the rows the active ``recommender`` version precomputed
(:class:`~recommendations.models.CustomerRecommendation`, :class:`SimilarProduct`), filtered
at read time (inactive, out-of-stock and, by default, already bought products never show),
with cold-start fallbacks: a customer without rows gets what is popular in their segment
(or the whole shop); a product without rows gets products with a similar text (TF-IDF,
computed on the fly). Every item carries a ``score`` and a readable ``reason``. While an A/B
test runs, a customer gets the list of their variant's recommender
(:func:`customer_recommendations_served`).

Every list is cached in Django's cache with the ids of the active versions it was computed
from (the recommender's; the segmentation's or the rules' where they matter): in its key, or,
for a customer's list, in the entry, so that the served list, the active version id and the
running experiment come back in one round trip. Those ids come from the registry's cached
active ids, which a promotion or a rollback refreshes when it commits, so a warm request runs
no query and a promotion changes what is served at once. The same round trip reads freshness
stamps that the store's hooks replace when a product's listing (price, name, stock, activity)
or a customer's orders change, so a just-bought or sold-out product leaves the lists at once
(:func:`_serving_read`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from scipy import sparse

from mining.selectors import rules as rules_selectors
from mining.selectors import segmentation as segmentation_selectors
from recommendations import experiments
from recommendations.engine import ContentRecommender, EventRows
from recommendations.models import SERVED_RECOMMENDER, CustomerRecommendation, SimilarProduct
from shopops.registry.services import (
    active_model_version_cache_key,
    active_model_version_ids,
)
from shopops.store.models import Event, Order, OrderItem, Product

KIND = experiments.KIND
CACHE_SECONDS = 60 * 60
#: Replaced whenever a product's listing changes; see :func:`_serving_read`.
CATALOGUE_STAMP_KEY = "recommendations:catalogue-stamp"
# Events that say something about taste; purchases come from the orders table instead (the
# storefront's purchase events duplicate order lines), searches name no product.
BEHAVIOUR_EVENTS = (Event.Type.VIEW, Event.Type.CART, Event.Type.CLICK)

REASON_BOUGHT = "bought"
REASON_SEGMENT = "segment_popular"
REASON_POPULAR = "popular"
REASON_SIMILAR = "similar"
REASON_TOGETHER = "bought_together"


# --- training data -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class InteractionData:
    """Event rows over indices, and the ids and texts the indices stand for."""

    rows: EventRows
    customer_ids: np.ndarray
    product_ids: np.ndarray
    product_features: list[dict[str, str]]


def interaction_data_get(*, since: datetime | None = None) -> InteractionData:
    """Purchases (returned orders subtract) and view/cart/click events of known customers.

    One ``values_list`` query per table; every product (active or not) gets an index so a
    product that comes back keeps its history.
    """
    items = OrderItem.objects.filter(
        order__customer__isnull=False,
        order__status__in=[*Order.SALE_STATUSES, Order.Status.RETURNED],
    )
    events = Event.objects.filter(
        customer__isnull=False, product__isnull=False, event_type__in=BEHAVIOUR_EVENTS
    )
    if since is not None:
        items = items.filter(order__placed_at__gte=since)
        events = events.filter(occurred_at__gte=since)
    order_rows = list(
        items.values_list(
            "order__customer_id", "product_id", "order__placed_at", "quantity", "order__status"
        )
    )
    event_rows = list(events.values_list("customer_id", "product_id", "occurred_at", "event_type"))
    products = list(
        Product.objects.order_by("id").values_list("id", "name", "description", "category__name")
    )
    product_ids = np.array([row[0] for row in products], dtype=np.int64)
    customers = np.array(
        [row[0] for row in order_rows] + [row[0] for row in event_rows], dtype=np.int64
    )
    customer_ids, users = np.unique(customers, return_inverse=True)
    item_ids = np.array(
        [row[1] for row in order_rows] + [row[1] for row in event_rows], dtype=np.int64
    )
    items_index = np.searchsorted(product_ids, item_ids)
    times = [row[2].timestamp() for row in order_rows] + [row[2].timestamp() for row in event_rows]
    types = ["purchase"] * len(order_rows) + [str(row[3]) for row in event_rows]
    quantities = [1.0] * len(order_rows) + [1.0] * len(event_rows)
    is_return = [row[4] == Order.Status.RETURNED for row in order_rows] + [False] * len(event_rows)
    rows = EventRows.from_arrays(
        users.astype(np.int64),
        items_index.astype(np.int64),
        np.asarray(times, dtype=np.float64),
        np.asarray(types, dtype=object),
        quantities=np.asarray(quantities),
        is_return=np.asarray(is_return, dtype=bool),
    )
    features = [
        {"name": name, "description": description or "", "category": category or ""}
        for _id, name, description, category in products
    ]
    return InteractionData(rows, customer_ids, product_ids, features)


# --- serving -------------------------------------------------------------------------------------


def customer_stamp_key(customer_id: int) -> str:
    return f"recommendations:customer-stamp:{customer_id}"


def _serving_read(
    *kinds: str, customer_id: int | None = None, extra_keys: tuple[str, ...] = ()
) -> tuple[list[int], tuple[Any, ...], dict[str, Any]]:
    """One cache round trip for a list: the active version ids of ``kinds`` (0 for none, read
    from the database where the registry's cache lacks one), the list's freshness stamp and
    the values of ``extra_keys`` that the cache has.

    The stamp is the catalogue's (:data:`CATALOGUE_STAMP_KEY`) and, for a ``customer_id``, the
    customer's orders' stamp: store hooks replace them (:mod:`recommendations.services`) when
    a product's listing or the customer's orders change, and a list is only served from the
    cache under the stamp it was computed with. Read before computing, so a change that
    commits while a list is being computed leaves it stale-stamped, not served.
    """
    version_keys = [active_model_version_cache_key(kind=kind) for kind in kinds]
    stamp_keys = [CATALOGUE_STAMP_KEY]
    if customer_id is not None:
        stamp_keys.append(customer_stamp_key(customer_id))
    cached = cache.get_many([*version_keys, *stamp_keys, *extra_keys])
    ids = [cached.get(key) for key in version_keys]
    if None in ids:
        stored = active_model_version_ids(kinds=list(kinds))
        ids = [stored[kind] or 0 for kind in kinds]
    return ids, tuple(cached.get(key) for key in stamp_keys), cached


def _cache_key(*parts: Any) -> str:
    return ":".join(["recommendations", *map(str, parts)])


def _list_key(recommender: str, customer_id: int, limit: int, exclude_bought: bool) -> str:
    # No version id in the key: the entry records the version it was computed from, so the
    # served hybrid's list can be read in the same round trip as the active version id.
    return _cache_key("customer", recommender, customer_id, limit, int(exclude_bought))


_UNREAD = object()


def _servable_products() -> QuerySet[Product]:
    # stock is null when the shop does not track it: such a product is available.
    return Product.objects.filter(is_active=True).filter(Q(stock__isnull=True) | Q(stock__gt=0))


def _bought_product_ids(customer_id: int) -> set[int]:
    return set(
        OrderItem.objects.filter(
            order__customer_id=customer_id, order__status__in=Order.SALE_STATUSES
        ).values_list("product_id", flat=True)
    )


def _item(product: dict[str, Any], *, score: float, reason_code: str, reason: str) -> dict:
    return {
        "product_id": product["id"],
        "sku": product["sku"],
        "name": product["name"],
        "price": product["price"],
        "currency": product["currency"],
        "score": float(score),
        "reason_code": reason_code,
        "reason": reason,
    }


def _products_by_id(ids: set[int] | list[int]) -> dict[int, dict[str, Any]]:
    return {
        row["id"]: row
        for row in _servable_products()
        .filter(id__in=ids)
        .values("id", "sku", "name", "price", "currency")
    }


@dataclass(frozen=True)
class ServedRecommendations:
    """A customer's list as served: by the hybrid, or by their A/B test variant's recommender."""

    items: list[dict[str, Any]]
    recommender: str
    experiment: experiments.ActiveExperiment | None = None
    variant: str | None = None


def _served_read(customer_id: int, limit: int) -> tuple[int, tuple[Any, ...], Any, Any]:
    """One round trip for a customer's served list: the active version id, the list's stamp,
    the cached running experiment (None when the cache has none) and the hybrid's entry."""
    served_key = _list_key(SERVED_RECOMMENDER, customer_id, limit, True)
    (version_id,), stamp, cached = _serving_read(
        KIND, customer_id=customer_id, extra_keys=(experiments.ACTIVE_CACHE_KEY, served_key)
    )
    return version_id, stamp, cached.get(experiments.ACTIVE_CACHE_KEY), cached.get(served_key)


def customer_recommendations_cached(*, customer_id: int, limit: int = 10) -> list[dict] | None:
    """The customer's served list when one cache round trip has all of it and no experiment
    runs (so there is no variant to pick and no impression to log); else None.

    The serving hot path's first try: a None sends the caller to
    :func:`customer_recommendations_served`.
    """
    version_id, stamp, experiment, entry = _served_read(customer_id, limit)
    if experiment != experiments.NO_EXPERIMENT:
        return None
    return entry["items"] if _entry_is_current(entry, version_id, stamp) else None


def customer_recommendations_served(*, customer_id: int, limit: int = 10) -> ServedRecommendations:
    """What the customer is shown now: while an experiment runs, their variant's list.

    One cache round trip on a warm path (the active version id, the running experiment and
    the hybrid's list together; a second for a variant that serves another list), no query.
    """
    version_id, stamp, experiment_cached, entry = _served_read(customer_id, limit)
    experiment = experiments.experiment_active_get(cached=experiment_cached)
    if experiment is None:
        items = _customer_list(
            version_id, stamp, customer_id, limit, True, SERVED_RECOMMENDER, entry
        )
        return ServedRecommendations(items, SERVED_RECOMMENDER)
    variant = experiments.experiment_variant_for(experiment=experiment, customer_id=customer_id)
    recommender = experiment.recommender_of(variant)
    if recommender != SERVED_RECOMMENDER:
        entry = _UNREAD
    items = _customer_list(version_id, stamp, customer_id, limit, True, recommender, entry)
    return ServedRecommendations(items, recommender, experiment, variant)


def customer_recommendations_list(
    *,
    customer_id: int,
    limit: int = 10,
    exclude_bought: bool = True,
    recommender: str = SERVED_RECOMMENDER,
) -> list[dict[str, Any]]:
    """The customer's top ``limit`` products by ``recommender``, best first, each with a
    score and a reason.

    From the active version's precomputed rows for that recommender; topped up (or, for a
    customer the version has no rows for, replaced) by :func:`segment_popular_list`.
    """
    (version_id,), stamp, _cached = _serving_read(KIND, customer_id=customer_id)
    return _customer_list(version_id, stamp, customer_id, limit, exclude_bought, recommender)


def _entry_is_current(entry: Any, version_id: int, stamp: tuple[Any, ...]) -> bool:
    # .get: an entry that an older release cached has no stamp, and is recomputed.
    return (
        isinstance(entry, dict)
        and entry.get("version") == version_id
        and entry.get("stamp") == stamp
    )


def _customer_list(
    version_id: int,
    stamp: tuple[Any, ...],
    customer_id: int,
    limit: int,
    exclude_bought: bool,
    recommender: str,
    entry: Any = _UNREAD,
) -> list[dict[str, Any]]:
    """The list from its cache entry (``entry``, when the caller already read it) if that was
    computed from ``version_id`` under ``stamp``; else computed and cached."""
    key = _list_key(recommender, customer_id, limit, exclude_bought)
    if entry is _UNREAD:
        entry = cache.get(key)
    if _entry_is_current(entry, version_id, stamp):
        return entry["items"]
    bought = _bought_product_ids(customer_id) if exclude_bought else set()
    rows = []
    if version_id:
        rows = list(
            CustomerRecommendation.objects.filter(
                model_version_id=version_id, recommender=recommender, customer_id=customer_id
            )
            .order_by("rank")
            .values_list("product_id", "score", "reason", "reason_product__name")
        )
    products = _products_by_id([row[0] for row in rows])
    result = []
    for product_id, score, reason_code, reason_name in rows:
        if product_id not in products or product_id in bought:
            continue
        if reason_code == CustomerRecommendation.Reason.BOUGHT and reason_name:
            reason = f"because you bought {reason_name}"
        else:
            reason_code, reason = REASON_POPULAR, "popular in the shop"
        result.append(
            _item(products[product_id], score=score, reason_code=reason_code, reason=reason)
        )
        if len(result) == limit:
            break
    if len(result) < limit:
        shown = {item["product_id"] for item in result}
        for item in segment_popular_list(
            customer_id=customer_id, limit=limit + len(shown), exclude_bought=exclude_bought
        ):
            if item["product_id"] not in shown and len(result) < limit:
                result.append(item)
    cache.set(key, {"version": version_id, "stamp": stamp, "items": result}, CACHE_SECONDS)
    return result


def segment_popular_list(
    *, customer_id: int, limit: int = 10, exclude_bought: bool = True
) -> list[dict[str, Any]]:
    """What the customer's segment buys most (distinct buyers), else the whole shop's best.

    Cached per active segmentation and recommender version: a new segmentation moves the
    customer, and the nightly retrain refreshes the sales it counts.
    """
    (segmentation_id, version_id), stamp, _cached = _serving_read(
        segmentation_selectors.KIND, KIND, customer_id=customer_id
    )
    key = _cache_key(
        "segment", segmentation_id, version_id, *stamp, customer_id, limit, int(exclude_bought)
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    bought = _bought_product_ids(customer_id) if exclude_bought else set()
    sales = OrderItem.objects.filter(
        order__status__in=Order.SALE_STATUSES, product__in=_servable_products()
    ).exclude(product_id__in=bought)
    result: list[dict[str, Any]] = []
    segmentation = segmentation_selectors.active_segmentation_version() if segmentation_id else None
    membership = (
        segmentation_selectors.customer_segment_get(customer_id=customer_id, version=segmentation)
        if segmentation is not None
        else None
    )
    if membership is not None and not membership.segment.is_noise:
        members = segmentation_selectors.segment_members(segment=membership.segment).values(
            "customer_id"
        )
        result = _popular(
            sales.filter(order__customer_id__in=members),
            limit,
            reason_code=REASON_SEGMENT,
            reason="popular with customers like you",
        )
    if len(result) < limit:
        shown = {item["product_id"] for item in result}
        for item in _popular(
            sales, limit + len(shown), reason_code=REASON_POPULAR, reason="popular in the shop"
        ):
            if item["product_id"] not in shown and len(result) < limit:
                result.append(item)
    cache.set(key, result, CACHE_SECONDS)
    return result


def _popular(
    sales: QuerySet[OrderItem], limit: int, *, reason_code: str, reason: str
) -> list[dict[str, Any]]:
    counts = list(
        sales.values("product_id")
        .annotate(buyers=Count("order__customer_id", distinct=True))
        .order_by("-buyers", "product_id")
        .values_list("product_id", "buyers")[:limit]
    )
    products = _products_by_id([product_id for product_id, _ in counts])
    return [
        _item(products[product_id], score=buyers, reason_code=reason_code, reason=reason)
        for product_id, buyers in counts
        if product_id in products
    ]


def similar_products_list(*, product_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """Products like ``product_id`` ("similar to X"): precomputed, else by text similarity."""
    (version_id,), stamp, _cached = _serving_read(KIND)
    key = _cache_key("similar", version_id, *stamp, product_id, limit)
    cached = cache.get(key)
    if cached is not None:
        return cached
    source = Product.objects.filter(id=product_id).values_list("name", flat=True).first()
    if source is None:
        return []
    rows = []
    if version_id:
        rows = list(
            SimilarProduct.objects.filter(model_version_id=version_id, product_id=product_id)
            .order_by("rank")
            .values_list("similar_product_id", "score")
        )
    if not rows:
        rows = _content_similar(product_id, limit * 2)
    products = _products_by_id([similar for similar, _ in rows])
    result = [
        _item(
            products[similar],
            score=score,
            reason_code=REASON_SIMILAR,
            reason=f"similar to {source}",
        )
        for similar, score in rows
        if similar in products and similar != product_id
    ][:limit]
    cache.set(key, result, CACHE_SECONDS)
    return result


def _content_similar(product_id: int, limit: int) -> list[tuple[int, float]]:
    """TF-IDF neighbours of a product among active ones (cold start: no CF rows yet)."""
    catalogue = list(
        Product.objects.filter(Q(is_active=True) | Q(id=product_id))
        .order_by("id")
        .values_list("id", "name", "description", "category__name")
    )
    ids = [row[0] for row in catalogue]
    if product_id not in ids or len(ids) < 2:
        return []
    features = [
        {"name": name, "description": description or "", "category": category or ""}
        for _id, name, description, category in catalogue
    ]
    model = ContentRecommender().fit(sparse.csr_matrix((1, len(ids))), item_features=features)
    indices, scores = model.similar_items(ids.index(product_id), limit)
    return [(ids[index], float(score)) for index, score in zip(indices, scores, strict=True)]


def frequently_bought_together_list(*, product_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """The active rules model's consequents of ``product_id`` ("often bought with X").

    Cached per active rules version (and recommender version, whose nightly retrain bounds how
    long a stock change takes to show).
    """
    (rules_id, version_id), stamp, _cached = _serving_read(rules_selectors.RULES_KIND, KIND)
    key = _cache_key("together", rules_id, version_id, *stamp, product_id, limit)
    cached = cache.get(key)
    if cached is not None:
        return cached
    if not rules_id:
        return []
    source = Product.objects.filter(id=product_id).values_list("name", flat=True).first()
    if source is None:
        return []
    together = rules_selectors.frequently_bought_together(product_id=product_id, limit=limit)
    products = _products_by_id([row["product_id"] for row in together])
    result = [
        _item(
            products[row["product_id"]],
            score=row["lift"],
            reason_code=REASON_TOGETHER,
            reason=f"often bought with {source}",
        )
        for row in together
        if row["product_id"] in products
    ]
    cache.set(key, result, CACHE_SECONDS)
    return result
