"""The dialogue engine's ports (``chatbot.engine.ports``) implemented on the shop's database.

Every method runs a small, fixed number of queries (no per-product queries) because it runs
inside a chat turn whose whole budget is a few milliseconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
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
from recommendations.selectors import customer_recommendations_served
from shopops.registry.services import active_model_version_id
from shopops.store.models import Category, Order, OrderItem, Product, ProductImage
from shopops.store.selectors import category_descendant_ids
from shopops.store.services import OrderNotCancellable, order_cancel

RECOMMENDER_KIND = "recommender"
POPULAR_CACHE_KEY = "chatbot:popular-product-ids"
POPULAR_CACHE_SECONDS = 10 * 60
# How many same-category products the price fallback looks at.
CATEGORY_FALLBACK_POOL = 60
_PRODUCT_FIELDS = ("id", "name", "price", "currency", "stock", "category__name", "category_id")
# A product's images joined to its row: (image, position, image id).
_IMAGE_FIELDS = ("images__image", "images__position", "images__id")


def _in_stock() -> Q:
    # Null stock means the shop does not track it: such a product is available.
    return Q(stock__isnull=True) | Q(stock__gt=0)


def _by_rank(products: QuerySet[Product]) -> QuerySet[Product]:
    """Search order: available products first, then by name."""
    # The stock condition itself is the first sort key (true first): Django builds it in a
    # fraction of the time of the equivalent CASE annotation.
    available = ExpressionWrapper(_in_stock(), output_field=BooleanField())
    return products.order_by(available.desc(), "name", "id")


def _first_images(rows: Iterable[tuple[int, str | None, int | None, int | None]]) -> dict[int, str]:
    """Product id -> its first non-empty image by (position, id), from
    ``(product id, image, position, image id)`` rows in any order."""
    first: dict[int, tuple[str, int, int]] = {}
    for product_id, image, position, image_id in rows:
        if image and (product_id not in first or (position, image_id) < first[product_id][1:]):
            first[product_id] = (image, position, image_id)
    return {product_id: image for product_id, (image, _, _) in first.items()}


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
        """Rows of ``_PRODUCT_FIELDS`` as products with their first image.

        A row from :meth:`_rows_with_image` brings its image; the images of the others are
        read in one more query.
        """
        missing = [row["id"] for row in rows if "image" not in row]
        images: dict[int, str] = {}
        if missing:
            images = _first_images(
                ProductImage.objects.filter(product_id__in=missing)
                .order_by()
                .values_list("product_id", "image", "position", "id")
            )
        infos = []
        for row in rows:
            image = row["image"] if "image" in row else images.get(row["id"], "")
            infos.append(
                ProductInfo(
                    id=row["id"],
                    name=row["name"],
                    price=_price(row["price"]),
                    currency=row["currency"],
                    in_stock=row["stock"] is None or row["stock"] > 0,
                    stock=row["stock"],
                    url=reverse("storefront:product", args=[row["id"]]),
                    image_url=default_storage.url(image) if image else "",
                    category=row["category__name"] or "",
                )
            )
        return infos

    @staticmethod
    def _rows_with_image(products: QuerySet[Product]) -> dict[int, dict[str, Any]]:
        """Rows of ``_PRODUCT_FIELDS`` by id, in the query's order, each with its first image
        (``""`` for none).

        One query: the images are joined rather than read apart, which would cost a chat turn
        about as much ORM work again. Only for a query without a limit, since a product with
        several images comes back once per image.
        """
        rows: dict[int, dict[str, Any]] = {}
        width = len(_PRODUCT_FIELDS)
        joined = list(products.values_list(*_PRODUCT_FIELDS, *_IMAGE_FIELDS))
        for values in joined:
            if values[0] not in rows:
                rows[values[0]] = dict(zip(_PRODUCT_FIELDS, values[:width], strict=True))
        images = _first_images((values[0], *values[width:]) for values in joined)
        for product_id, row in rows.items():
            row["image"] = images.get(product_id, "")
        return rows

    def products(self, ids: Sequence[int]) -> list[ProductInfo]:
        rows = self._rows_with_image(
            Product.objects.filter(id__in=list(ids), is_active=True).order_by()
        )
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
        elif query.product_ids and len(query.product_ids) <= query.limit:
            # The products named all fit: no LIMIT needed, so their images can come joined.
            rows = list(self._rows_with_image(_by_rank(products)).values())
        else:
            rows = self._ranked(products, query.limit)
        return self._infos(rows)

    @staticmethod
    def _ranked(products: QuerySet[Product], limit: int) -> list[dict[str, Any]]:
        return list(_by_rank(products).values(*_PRODUCT_FIELDS)[:limit])

    def _source_and_similar(
        self, product_id: int
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The row of ``product_id`` itself (None if there is no such product) and the rows of
        the servable products like it, most similar first (the recommender's list).

        Two queries: the similar ids, then the product and those of them that can be served.
        """
        ids: list[int] = []
        version_id = active_model_version_id(kind=RECOMMENDER_KIND)
        if version_id:
            ids = list(
                SimilarProduct.objects.filter(model_version_id=version_id, product_id=product_id)
                .order_by("rank")
                .values_list("similar_product_id", flat=True)
            )
        wanted = Q(id=product_id)
        if ids:
            wanted |= Q(id__in=ids, is_active=True) & _in_stock()
        rows = self._rows_with_image(Product.objects.filter(wanted).order_by())
        similar = [rows[pk] for pk in ids if pk in rows and pk != product_id]
        return rows.get(product_id), similar

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

    def similar(self, product_id: int, *, limit: int = 3) -> list[ProductInfo]:
        source, similar = self._source_and_similar(product_id)
        if source is None:
            return []
        rows = similar[:limit]
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
        source, similar = self._source_and_similar(product_id)
        if source is None:
            return []
        price = source["price"]
        rows = [row for row in similar if row["price"] < price][:limit]
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
        # The list the customer is served everywhere: their A/B variant's while a test runs,
        # so the chat never contradicts the storefront. Impressions are logged where clicks
        # are (the recommendations API), so the test's CTR counts like with like.
        items = customer_recommendations_served(customer_id=customer_id, limit=limit).items
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
