"""The dialogue engine's ports (``chatbot.engine.ports``) implemented on the shop's database.

Every method runs a small, fixed number of queries (no per-product queries) because it runs
inside a chat turn whose whole budget is a few milliseconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.urls import reverse

from chatbot.engine import ports
from chatbot.engine.entities import DEFAULT_COLOURS, DEFAULT_SIZES, Vocabulary
from chatbot.engine.entities import Product as VocabProduct
from chatbot.engine.ports import (
    CancelOutcome,
    FaqAnswer,
    OrderInfo,
    ProductInfo,
    SearchQuery,
)
from chatbot.models import FaqEntry
from recommendations.models import SimilarProduct
from recommendations.selectors import customer_recommendations_list
from shopops.registry.services import active_model_version_id
from shopops.store.models import Category, Order, OrderItem, Product, ProductImage
from shopops.store.selectors import category_descendant_ids
from shopops.store.services import OrderNotCancellable, order_cancel

RECOMMENDER_KIND = "recommender"
POPULAR_CACHE_KEY = "chatbot:popular-product-ids"
POPULAR_CACHE_SECONDS = 10 * 60
# How many same-category products the price fallback looks at.
CATEGORY_FALLBACK_POOL = 60
_PRODUCT_FIELDS = ("id", "name", "price", "currency", "stock", "category__name")


def _in_stock() -> Q:
    # Null stock means the shop does not track it: such a product is available.
    return Q(stock__isnull=True) | Q(stock__gt=0)


def _price(value: Decimal | float) -> str:
    return f"{Decimal(value):.2f}"


def _category_aliases(name: str) -> tuple[str, ...]:
    """ "Scarves & Hats" is also found as "scarves" or "hats"."""
    parts = [p.strip().lower() for p in name.replace("&", ",").replace("/", ",").split(",")]
    return tuple(p for p in parts if len(p) > 2 and p != name.lower())


def _synonyms(attributes: Any) -> tuple[str, ...]:
    value = attributes.get("synonyms") if isinstance(attributes, dict) else None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return ()
    return tuple(str(v).strip() for v in value if str(v).strip())


class DbCatalog:
    """Catalogue search, product facts and similar/cheaper products."""

    def vocabulary(self) -> Vocabulary:
        products = tuple(
            VocabProduct(pk, name, _synonyms(attributes), category or "")
            for pk, name, attributes, category in Product.objects.filter(
                is_active=True
            ).values_list("id", "name", "attributes", "category__name")
        )
        categories = {
            name: _category_aliases(name)
            for name in Category.objects.values_list("name", flat=True).distinct()
        }
        return Vocabulary(
            products=products,
            categories=categories,
            colours=DEFAULT_COLOURS,
            sizes=DEFAULT_SIZES,
        )

    def _infos(self, rows: Sequence[dict[str, Any]]) -> list[ProductInfo]:
        """Rows of ``_PRODUCT_FIELDS`` as products with their first image (one more query)."""
        ids = [row["id"] for row in rows]
        images: dict[int, str] = {}
        for product_id, image in (
            ProductImage.objects.filter(product_id__in=ids)
            .order_by("product_id", "position", "id")
            .values_list("product_id", "image")
        ):
            if product_id not in images and image:
                images[product_id] = default_storage.url(image)
        return [
            ProductInfo(
                id=row["id"],
                name=row["name"],
                price=_price(row["price"]),
                currency=row["currency"],
                in_stock=row["stock"] is None or row["stock"] > 0,
                stock=row["stock"],
                url=reverse("storefront:product", args=[row["id"]]),
                image_url=images.get(row["id"], ""),
                category=row["category__name"] or "",
            )
            for row in rows
        ]

    def products(self, ids: Sequence[int]) -> list[ProductInfo]:
        rows = {
            row["id"]: row
            for row in Product.objects.filter(id__in=list(ids), is_active=True).values(
                *_PRODUCT_FIELDS
            )
        }
        return self._infos([rows[pk] for pk in ids if pk in rows])

    def search(self, query: SearchQuery) -> list[ProductInfo]:
        products = Product.objects.filter(is_active=True)
        if query.product_ids:
            products = products.filter(id__in=list(query.product_ids))
        if query.categories:
            roots = Category.objects.filter(name__in=list(query.categories)).values_list(
                "id", flat=True
            )
            ids: set[int] = set()
            for root in roots:
                ids |= category_descendant_ids(category_id=root)
            products = products.filter(category_id__in=ids)
        if query.price_min is not None:
            products = products.filter(price__gte=Decimal(str(query.price_min)))
        if query.price_max is not None:
            products = products.filter(price__lte=Decimal(str(query.price_max)))
        if query.colours:
            colour = Q()
            for name in query.colours:
                colour |= Q(attributes__colour__iexact=name) | Q(name__icontains=name)
            products = products.filter(colour)
        if query.sizes:
            size = Q()
            for name in query.sizes:
                size |= Q(attributes__size__iexact=name)
            products = products.filter(size)
        rows: list[dict[str, Any]] = []
        keywords = [] if query.product_ids else list(query.keywords)
        if keywords:
            every = Q()
            for word in keywords:
                every &= Q(name__icontains=word)
            rows = self._ranked(products.filter(every), query.limit)
            if not rows and len(keywords) > 1:
                anyone = Q()
                for word in keywords:
                    anyone |= Q(name__icontains=word)
                rows = self._ranked(products.filter(anyone), query.limit)
        else:
            rows = self._ranked(products, query.limit)
        return self._infos(rows)

    @staticmethod
    def _ranked(products: QuerySet[Product], limit: int) -> list[dict[str, Any]]:
        return list(
            products.annotate(
                available=Case(
                    When(_in_stock(), then=Value(1)), default=Value(0), output_field=IntegerField()
                )
            )
            .order_by("-available", "name", "id")
            .values(*_PRODUCT_FIELDS)[:limit]
        )

    def _similar_rows(self, product_id: int) -> list[dict[str, Any]]:
        """Servable products like ``product_id``, most similar first (recommender's rows)."""
        version_id = active_model_version_id(kind=RECOMMENDER_KIND)
        if not version_id:
            return []
        ids = list(
            SimilarProduct.objects.filter(model_version_id=version_id, product_id=product_id)
            .order_by("rank")
            .values_list("similar_product_id", flat=True)
        )
        rows = {
            row["id"]: row
            for row in Product.objects.filter(id__in=ids, is_active=True)
            .filter(_in_stock())
            .values(*_PRODUCT_FIELDS)
        }
        return [rows[pk] for pk in ids if pk in rows and pk != product_id]

    def _category_rows(self, product: dict[str, Any]) -> list[dict[str, Any]]:
        if product["category_id"] is None:
            return []
        return list(
            Product.objects.filter(category_id=product["category_id"], is_active=True)
            .filter(_in_stock())
            .exclude(id=product["id"])
            .order_by("id")
            .values(*_PRODUCT_FIELDS)[:CATEGORY_FALLBACK_POOL]
        )

    def _source(self, product_id: int) -> dict[str, Any] | None:
        return (
            Product.objects.filter(id=product_id)
            .values("id", "price", "category_id", "name")
            .first()
        )

    def similar(self, product_id: int, *, limit: int = 3) -> list[ProductInfo]:
        source = self._source(product_id)
        if source is None:
            return []
        rows = self._similar_rows(product_id)[:limit]
        if len(rows) < limit:
            shown = {row["id"] for row in rows}
            price = source["price"]
            nearest = sorted(
                (r for r in self._category_rows(source) if r["id"] not in shown),
                key=lambda r: (abs(r["price"] - price), r["id"]),
            )
            rows += nearest[: limit - len(rows)]
        return self._infos(rows)

    def cheaper_similar(self, product_id: int, *, limit: int = 3) -> list[ProductInfo]:
        source = self._source(product_id)
        if source is None:
            return []
        price = source["price"]
        rows = [row for row in self._similar_rows(product_id) if row["price"] < price][:limit]
        if len(rows) < limit:
            # Same category, closest price below first: the likeliest substitute.
            shown = {row["id"] for row in rows}
            cheaper = sorted(
                (
                    r
                    for r in self._category_rows(source)
                    if r["price"] < price and r["id"] not in shown
                ),
                key=lambda r: (-r["price"], r["id"]),
            )
            rows += cheaper[: limit - len(rows)]
        return self._infos(rows)


_RECOMMENDATION_REASONS = {
    "bought": ports.REASON_BOUGHT,
    "segment_popular": ports.REASON_SEGMENT,
    "popular": ports.REASON_POPULAR,
}
_BOUGHT_PREFIX = "because you bought "


class DbRecommender:
    """The recommendations app's lists, as cards with a reason code the engine can translate."""

    def __init__(self, *, catalog: DbCatalog) -> None:
        self.catalog = catalog

    def recommend(self, *, customer_id: int | None, limit: int = 4) -> list[ProductInfo]:
        if customer_id is None:
            ids = self._popular_ids(limit)
            return [
                dataclasses.replace(p, reason_code=ports.REASON_POPULAR)
                for p in self.catalog.products(ids)
            ]
        items = customer_recommendations_list(customer_id=customer_id, limit=limit)
        reasons = {}
        for item in items:
            code = _RECOMMENDATION_REASONS.get(item.get("reason_code", ""), ports.REASON_POPULAR)
            reason = str(item.get("reason", ""))
            about = reason[len(_BOUGHT_PREFIX) :] if reason.startswith(_BOUGHT_PREFIX) else ""
            reasons[item["product_id"]] = (code, about)
        return [
            dataclasses.replace(p, reason_code=reasons[p.id][0], reason_product=reasons[p.id][1])
            for p in self.catalog.products([item["product_id"] for item in items])
        ]

    @staticmethod
    def _popular_ids(limit: int) -> list[int]:
        """Best sellers by distinct orders, cached: the count scans the order lines."""
        key = f"{POPULAR_CACHE_KEY}:{limit}"
        ids = cache.get(key)
        if ids is None:
            ids = list(
                OrderItem.objects.filter(
                    order__status__in=Order.SALE_STATUSES, product__is_active=True
                )
                .filter(Q(product__stock__isnull=True) | Q(product__stock__gt=0))
                .values("product_id")
                .annotate(orders=Count("order_id", distinct=True))
                .order_by("-orders", "product_id")
                .values_list("product_id", flat=True)[:limit]
            )
            if not ids:  # a new shop without sales: its newest products
                ids = list(
                    Product.objects.filter(is_active=True)
                    .filter(_in_stock())
                    .order_by("-created_at", "-id")
                    .values_list("id", flat=True)[:limit]
                )
            cache.set(key, ids, POPULAR_CACHE_SECONDS)
        return ids


class DbOrders:
    """Orders as their owner may see them (see ``ports.OrderLookup``)."""

    @staticmethod
    def _owned(*, number: str, customer_id: int | None, email: str) -> QuerySet[Order] | None:
        number = number.strip()
        if not number:
            return None
        orders = Order.objects.filter(external_number__in={number, number.upper()})
        if customer_id is not None:
            return orders.filter(customer_id=customer_id)
        email = email.strip()
        if not email:
            return None
        return orders.filter(email__iexact=email)

    @staticmethod
    def _infos(orders: Sequence[Order]) -> list[OrderInfo]:
        lines: dict[int, list[str]] = {}
        for order_id, quantity, name in (
            OrderItem.objects.filter(order_id__in=[o.id for o in orders])
            .order_by("order_id", "id")
            .values_list("order_id", "quantity", "product__name")
        ):
            lines.setdefault(order_id, []).append(f"{quantity} × {name}")
        return [
            OrderInfo(
                number=order.external_number,
                status=order.status,
                placed_at=order.placed_at.date().isoformat(),
                total=_price(order.total),
                currency=order.currency,
                item_count=order.item_count,
                items=tuple(lines.get(order.id, ())),
            )
            for order in orders
        ]

    def find(self, *, number: str, customer_id: int | None, email: str = "") -> OrderInfo | None:
        orders = self._owned(number=number, customer_id=customer_id, email=email)
        order = orders.first() if orders is not None else None
        return self._infos([order])[0] if order is not None else None

    def recent(self, *, customer_id: int, limit: int = 3) -> list[OrderInfo]:
        orders = list(Order.objects.filter(customer_id=customer_id).order_by("-placed_at")[:limit])
        return self._infos(orders)

    def cancel(
        self, *, number: str, customer_id: int | None, email: str = ""
    ) -> CancelOutcome | None:
        orders = self._owned(number=number, customer_id=customer_id, email=email)
        order = orders.first() if orders is not None else None
        if order is None:
            return None
        was_cancelled = order.status == Order.Status.CANCELLED
        try:
            order = order_cancel(order_id=order.id)
        except OrderNotCancellable:
            order.refresh_from_db(fields=["status"])
            return CancelOutcome(ports.NOT_CANCELLABLE, self._infos([order])[0])
        outcome = ports.ALREADY_CANCELLED if was_cancelled else ports.CANCELLED
        return CancelOutcome(outcome, self._infos([order])[0])


class DbFaq:
    def answers(self) -> list[FaqAnswer]:
        return [
            FaqAnswer(
                topic=entry.topic,
                question=entry.question,
                keywords=tuple(k.strip() for k in entry.keywords.split(",") if k.strip()),
                answer_en=entry.answer_en,
                answer_zh=entry.answer_zh,
            )
            for entry in FaqEntry.objects.filter(is_published=True).order_by(
                "topic", "position", "id"
            )
        ]
