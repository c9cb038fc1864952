"""Factories for the shop's models, reusable by every app's tests."""

from datetime import UTC, datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from shopops.store.models import Category, Customer, Event, Order, OrderItem, Product


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class StaffUserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    description = "A product for tests."
    price = Decimal("9.99")
    stock = 10
    category = factory.SubFactory(CategoryFactory)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.LazyAttribute(lambda o: f"{o.external_id.lower()}@example.com")
    country = "United Kingdom"
    first_seen_at = datetime(2024, 1, 1, tzinfo=UTC)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    external_number = factory.Sequence(lambda n: f"ORD{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    status = Order.Status.PAID
    placed_at = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    total = Decimal("0")


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda o: o.product.price)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    event_type = Event.Type.VIEW
    occurred_at = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
