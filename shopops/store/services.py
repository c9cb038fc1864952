"""Writes to the shop's tables: the catalogue, customers, orders and behaviour events.

Callers (the REST API, commands) hand in input that already has the right shape (types, lengths,
choices); the rules that need the database or the acting user live here. A broken rule raises
:class:`InputError`, whose ``errors`` has the shape of a DRF serializer's errors, or
:class:`DeleteBlocked` when other rows still refer to the row being deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from django.db import models, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from shopops.store.models import (
    Category,
    Customer,
    Event,
    Order,
    OrderItem,
    Product,
    ProductImage,
)
from shopops.store.selectors import (
    category_descendant_ids,
    customer_for_user,
    user_is_staff_with,
)

CENT = Decimal("0.01")
#: Event types that are about one product and mean nothing without it.
PRODUCT_EVENT_TYPES = frozenset({Event.Type.VIEW, Event.Type.CART, Event.Type.PURCHASE})


class AfterCommitHooks:
    """Callables that other apps register from ``AppConfig.ready()`` to hear of a store write
    once it has committed (never for one that rolled back). The store never imports those
    apps, and no signal carries business logic."""

    def __init__(self) -> None:
        self._hooks: list[Callable[..., None]] = []

    def register(self, hook: Callable[..., None]) -> None:
        if hook not in self._hooks:
            self._hooks.append(hook)

    def fire(self, **kwargs: Any) -> None:
        for hook in list(self._hooks):
            transaction.on_commit(partial(hook, **kwargs))


#: ``image_id=``: a product image was added, its file replaced, or it was moved to another
#: product (vision categorises and indexes it).
product_image_added_hooks = AfterCommitHooks()
#: ``product_id=``: what a shopper is shown of a product changed (:data:`LISTING_FIELDS`, or
#: whether it can be bought), or it was deleted (recommendation lists are recomputed).
product_listing_changed_hooks = AfterCommitHooks()
#: ``customer_id=``: one of the customer's orders was placed, changed status, was cancelled or
#: deleted (recommendation lists leave out what a customer bought).
customer_orders_changed_hooks = AfterCommitHooks()


class InputError(Exception):
    """Input that has the right shape but breaks a rule of the data (unknown product ...)."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(errors)
        self.errors = errors


class DeleteBlocked(Exception):
    """Other rows still refer to the row being deleted (orders to a product, ...)."""


# --- generic create / update / delete -----------------------------------------------------------


def _instance_update(instance: models.Model, data: Mapping[str, Any]) -> models.Model:
    for name, value in data.items():
        setattr(instance, name, value)
    instance.save()
    return instance


def _instance_delete(instance: models.Model) -> None:
    try:
        instance.delete()
    except ProtectedError as error:
        # Deleting would orphan history (order lines, orders, subcategories): refuse with a
        # message the merchant can act on instead of a 500.
        blocking = next(iter(error.protected_objects), None)
        what = blocking._meta.verbose_name_plural if blocking is not None else "rows"
        raise DeleteBlocked(
            f"This {instance._meta.verbose_name} cannot be deleted: {what} still refer to it."
        ) from error


# --- catalogue ------------------------------------------------------------------------------------


def category_create(*, data: Mapping[str, Any]) -> Category:
    return Category.objects.create(**data)


def category_update(*, category: Category, data: Mapping[str, Any]) -> Category:
    """Update a category; moving it under itself or one of its descendants is refused."""
    parent = data.get("parent")
    if parent is not None and parent.pk in category_descendant_ids(category_id=category.pk):
        raise InputError(
            {"parent": ["A category cannot move under itself or one of its subcategories."]}
        )
    return _instance_update(category, data)


def category_delete(*, category: Category) -> None:
    _instance_delete(category)


def product_create(*, data: Mapping[str, Any]) -> Product:
    return Product.objects.create(**data)


#: What lists of products show of each one, besides whether it can be bought.
LISTING_FIELDS = ("sku", "name", "price", "currency")


def _listing(product: Product | dict[str, Any]) -> tuple[Any, ...]:
    get = product.get if isinstance(product, dict) else partial(getattr, product)
    stock = get("stock")
    return (*(get(name) for name in LISTING_FIELDS), get("is_active"), stock is None or stock > 0)


def product_update(*, product: Product, data: Mapping[str, Any]) -> Product:
    """Change a product (``data`` may be empty when the caller set the fields, as the admin
    does); tells :data:`product_listing_changed_hooks` when what shoppers see of it changed."""
    stored = (
        Product.objects.filter(pk=product.pk).values(*LISTING_FIELDS, "is_active", "stock").first()
    )
    product = _instance_update(product, data)
    if stored is None or _listing(stored) != _listing(product):
        product_listing_changed_hooks.fire(product_id=product.pk)
    return product


def product_delete(*, product: Product) -> None:
    """Delete a product; one that was ever ordered is kept (deactivate it instead)."""
    product_id = product.pk
    _instance_delete(product)
    product_listing_changed_hooks.fire(product_id=product_id)


# --- product images -------------------------------------------------------------------------------


def product_image_save(*, image: ProductImage) -> ProductImage:
    """Save a new or edited product image (the admin builds it from its form).

    The hooks run when the picture is new or replaced, or now shows another product: editing
    the alt text or position of an image changes nothing an app derived from its pixels.
    """
    stored = (
        ProductImage.objects.filter(pk=image.pk).values_list("image", "product_id").first()
        if image.pk is not None
        else None
    )
    image.save()
    if stored != (image.image.name, image.product_id):
        product_image_added_hooks.fire(image_id=image.pk)
    return image


def product_image_create(*, product: Product, data: Mapping[str, Any]) -> ProductImage:
    """Add an image (``image`` file, ``alt_text``, ``position``) to ``product``."""
    return product_image_save(image=ProductImage(product=product, **data))


# --- customers ----------------------------------------------------------------------------------


def customer_create(*, data: Mapping[str, Any]) -> Customer:
    return Customer.objects.create(**data)


def customer_update(*, customer: Customer, data: Mapping[str, Any]) -> Customer:
    return _instance_update(customer, data)


def customer_delete(*, customer: Customer) -> None:
    _instance_delete(customer)


# --- orders ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLineInput:
    product_id: int
    quantity: int


def order_create(
    *,
    customer: Customer | None,
    items: list[OrderLineInput],
    status: str = Order.Status.PENDING,
    placed_at: datetime | None = None,
    external_number: str = "",
    email: str = "",
    country: str = "",
) -> Order:
    """Create an order and its lines, pricing every line from the product's current price.

    Lines for the same product are merged; ``item_count`` is the number of distinct products
    (as the importer and the demo generator count it) and ``total`` the sum of the lines rounded
    half-up to the cent. The order's currency is its products' currency, so every product must
    share one. Unknown products are reported per line as ``{"items": {index: {"product": ...}}}``.
    Stock is not touched: the shop's stock figures come from its own stock system.
    """
    if not items:
        raise InputError({"items": ["An order needs at least one item."]})
    wanted_ids = {line.product_id for line in items}
    products = Product.objects.in_bulk(wanted_ids)
    line_errors = {
        index: {"product": [f"Unknown product {line.product_id}."]}
        for index, line in enumerate(items)
        if line.product_id not in products
    }
    if line_errors:
        raise InputError({"items": line_errors})
    currencies = sorted({products[pk].currency for pk in wanted_ids})
    if len(currencies) > 1:
        raise InputError(
            {"items": [f"All items must share one currency; got {', '.join(currencies)}."]}
        )
    quantities: dict[int, int] = {}
    for line in items:
        if line.quantity < 1:
            raise InputError({"items": ["Every quantity must be at least 1."]})
        quantities[line.product_id] = quantities.get(line.product_id, 0) + line.quantity
    total = sum(
        (products[pk].price * quantity for pk, quantity in quantities.items()), Decimal("0")
    )
    with transaction.atomic():
        order = Order.objects.create(
            external_number=external_number or f"API{uuid.uuid4().hex[:12].upper()}",
            customer=customer,
            status=status,
            placed_at=placed_at or timezone.now(),
            email=email or (customer.email if customer else ""),
            country=country or (customer.country if customer else ""),
            currency=currencies[0],
            item_count=len(quantities),
            total=total.quantize(CENT, rounding=ROUND_HALF_UP),
        )
        OrderItem.objects.bulk_create(
            OrderItem(
                order=order,
                product_id=pk,
                quantity=quantity,
                unit_price=products[pk].price,
            )
            for pk, quantity in quantities.items()
        )
        _customer_orders_changed(order.customer_id)
    return order


def _customer_orders_changed(customer_id: int | None) -> None:
    if customer_id is not None:
        customer_orders_changed_hooks.fire(customer_id=customer_id)


def order_update(*, order: Order, data: Mapping[str, Any]) -> Order:
    """Change an order's status or contact details; its lines and totals never change."""
    allowed = {"status", "email", "country"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputError({name: ["This field cannot be changed."] for name in unknown})
    status_before = order.status
    order = _instance_update(order, data)
    if order.status != status_before:
        _customer_orders_changed(order.customer_id)
    return order


def order_delete(*, order: Order) -> None:
    customer_id = order.customer_id
    _instance_delete(order)
    _customer_orders_changed(customer_id)


#: Orders that have not left the warehouse; later ones are returned, not cancelled.
CANCELLABLE_STATUSES = (Order.Status.PENDING, Order.Status.PAID)


class OrderNotCancellable(Exception):
    """The order has shipped (or ended) and can no longer be cancelled."""

    def __init__(self, status: str) -> None:
        super().__init__(f"An order that is {status} cannot be cancelled.")
        self.status = status


def order_cancel(*, order_id: int) -> Order:
    """Cancel a pending or paid order; a cancelled one is returned unchanged.

    Locks the row so a cancellation cannot race the warehouse marking the order shipped.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(id=order_id)
        if order.status == Order.Status.CANCELLED:
            return order
        if order.status not in CANCELLABLE_STATUSES:
            raise OrderNotCancellable(order.status)
        order.status = Order.Status.CANCELLED
        order.save(update_fields=["status"])
        _customer_orders_changed(order.customer_id)
    return order


# --- behaviour events -----------------------------------------------------------------------------

#: The most events one call may write.
EVENT_BATCH_LIMIT = 1000


def events_ingest(*, events: list[dict[str, Any]], actor) -> int:
    """Write a batch of behaviour events, all or none, in one ``bulk_create``.

    Each event is a dict with ``type``, ``product`` (an int id or a str sku, or None),
    ``customer`` (an id or None), ``session_key``, ``query``, ``occurred_at`` (None: now) and
    ``metadata``. Who may post what:

    - staff with ``store.add_event``: any customer or session;
    - a logged-in customer: their own customer record (filled in when left out) or a session;
    - anyone else (anonymous visitors): a session only.

    Non-staff may only refer to active products. Every broken rule of every event is collected
    and raised together as ``InputError({"events": {index: {field: [message]}}})``; nothing is
    written then. Returns the number of events written.
    """
    if len(events) > EVENT_BATCH_LIMIT:
        raise InputError({"events": [f"Send at most {EVENT_BATCH_LIMIT} events per request."]})
    is_staff = user_is_staff_with(user=actor, permission="store.add_event")
    own_customer = None if is_staff else customer_for_user(user=actor)
    product_ids, skus = _event_products(events, active_only=not is_staff)
    customer_ids = set()
    if is_staff:
        wanted = {event["customer"] for event in events if event.get("customer") is not None}
        customer_ids = set(Customer.objects.filter(id__in=wanted).values_list("id", flat=True))

    now = timezone.now()
    errors: dict[int, dict[str, list[str]]] = {}
    rows: list[Event] = []
    for index, event in enumerate(events):
        problems: dict[str, list[str]] = {}
        reference = event.get("product")
        product_id = None
        if reference is not None:
            product_id = product_ids.get(reference) if isinstance(reference, int) else None
            product_id = skus.get(reference) if isinstance(reference, str) else product_id
            if product_id is None:
                problems["product"] = [f"Unknown product {reference!r}."]
        customer_id = event.get("customer")
        session_key = event.get("session_key") or ""
        if is_staff:
            if customer_id is not None and customer_id not in customer_ids:
                problems["customer"] = [f"Unknown customer {customer_id}."]
        elif own_customer is not None:
            if customer_id is not None and customer_id != own_customer.pk:
                problems["customer"] = ["You can only post events for your own customer record."]
            customer_id = own_customer.pk
        elif customer_id is not None:
            problems["customer"] = [
                "Anonymous visitors identify with a session_key, not a customer."
            ]
        if customer_id is None and not session_key and "customer" not in problems:
            problems["session_key"] = ["Give a session_key (or, for staff, a customer)."]
        if problems:
            errors[index] = problems
            continue
        rows.append(
            Event(
                event_type=event["type"],
                product_id=product_id,
                customer_id=customer_id,
                session_key=session_key,
                query=event.get("query") or "",
                occurred_at=event.get("occurred_at") or now,
                metadata=event.get("metadata") or {},
            )
        )
    if errors:
        raise InputError({"events": errors})
    with transaction.atomic():
        Event.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def _event_products(
    events: list[dict[str, Any]], *, active_only: bool
) -> tuple[dict[int, int], dict[str, int]]:
    """The products an event batch names, found in two queries: {id: id} and {sku: id}."""
    wanted_ids = {e["product"] for e in events if isinstance(e.get("product"), int)}
    wanted_skus = {e["product"] for e in events if isinstance(e.get("product"), str)}
    products = Product.objects.filter(is_active=True) if active_only else Product.objects.all()
    by_id = {pk: pk for pk in products.filter(id__in=wanted_ids).values_list("id", flat=True)}
    by_sku = dict(products.filter(sku__in=wanted_skus).values_list("sku", "id"))
    return by_id, by_sku
