"""The public storefront's reads (catalogue pages) and writes (behaviour events).

Only active products are ever shown; an inactive one is a 404, as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from shopops.store import selectors
from shopops.store.models import Category, Customer, Event, Product, ProductImage

PAGE_SIZE = 24
CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥", "CNY": "¥"}


def price_format(*, amount: Decimal, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency)
    value = f"{amount:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency}"


def _image_url(name: str | None) -> str:
    return f"{settings.MEDIA_URL}{name}" if name else ""


@dataclass(frozen=True)
class ProductCard:
    """What a listing shows of a product, built without touching its relations again."""

    id: int
    name: str
    price: str
    category: str
    category_slug: str
    image_url: str
    image_alt: str
    is_in_stock: bool


def storefront_categories() -> list[Category]:
    """Categories that hold at least one active product (directly), by name."""
    return list(Category.objects.filter(products__is_active=True).distinct().order_by("name"))


def storefront_category_get(*, slug: str) -> Category | None:
    return Category.objects.filter(slug=slug).first()


def storefront_product_list(
    *, query: str = "", category: Category | None = None
) -> QuerySet[Product]:
    """Active products matching ``query`` (name or SKU) in ``category`` or below it, by name."""
    first_image = ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id")
    products = (
        Product.objects.filter(is_active=True)
        .select_related("category")
        .annotate(
            first_image=Subquery(first_image.values("image")[:1]),
            first_image_alt=Subquery(first_image.values("alt_text")[:1]),
        )
        .order_by("name", "id")
    )
    query = query.strip()
    if query:
        products = products.filter(Q(name__icontains=query) | Q(sku__iexact=query))
    if category is not None:
        products = products.filter(
            category_id__in=selectors.category_descendant_ids(category_id=category.id)
        )
    return products


def storefront_product_page(
    *, query: str = "", category: Category | None = None, page: str | int | None = 1
) -> tuple[Page, list[ProductCard]]:
    """One page of the listing (out-of-range page numbers give the last page) and its cards."""
    paginator = Paginator(storefront_product_list(query=query, category=category), PAGE_SIZE)
    products_page = paginator.get_page(page)
    cards = [
        ProductCard(
            id=product.id,
            name=product.name,
            price=price_format(amount=product.price, currency=product.currency),
            category=product.category.name if product.category else "",
            category_slug=product.category.slug if product.category else "",
            image_url=_image_url(product.first_image),
            image_alt=product.first_image_alt or product.name,
            is_in_stock=product.is_in_stock,
        )
        for product in products_page.object_list
    ]
    return products_page, cards


def storefront_product_get(*, product_id: int) -> Product:
    """An active product with its category and images; raises ``Product.DoesNotExist``."""
    return (
        Product.objects.filter(is_active=True)
        .select_related("category__parent")
        .prefetch_related("images")
        .get(id=product_id)
    )


def product_view_record(*, product: Product, customer: Customer | None, session_key: str) -> Event:
    """Record that a visitor looked at ``product``.

    A logged-in customer's view is theirs (``customer``); an anonymous visitor is known only by
    ``session_key``. The session key is kept for customers too, so that browsing before and after
    logging in can be joined up. One of the two is required (a database constraint).
    """
    if customer is None and not session_key:
        raise ValueError("A view needs a customer or a session key.")
    return Event.objects.create(
        event_type=Event.Type.VIEW,
        product=product,
        customer=customer,
        session_key=session_key or "",
        occurred_at=timezone.now(),
        metadata={"source": "storefront"},
    )


def product_search_record(*, query: str, customer: Customer | None, session_key: str) -> Event:
    """Record a storefront search (the words people look for feed recommendations and the bot)."""
    if customer is None and not session_key:
        raise ValueError("A search needs a customer or a session key.")
    return Event.objects.create(
        event_type=Event.Type.SEARCH,
        customer=customer,
        session_key=session_key or "",
        query=query.strip()[:255],
        occurred_at=timezone.now(),
        metadata={"source": "storefront"},
    )
