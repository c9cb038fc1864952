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


# --- chatbot
from chatbot.models import Conversation, FaqEntry, IntentExample, Message  # noqa: E402


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    customer = None
    session_key = factory.Sequence(lambda n: f"session{n:05d}")
    language = "en"
    mode = Conversation.Mode.BOT


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    sender = Message.Sender.CUSTOMER
    text = factory.Sequence(lambda n: f"message {n}")
    intent = ""
    confidence = None
    language = "en"


class IntentExampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IntentExample

    text = factory.Sequence(lambda n: f"example sentence {n}")
    intent = "greet"
    language = "en"
    source = IntentExample.Source.MERCHANT


class FaqEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FaqEntry

    topic = FaqEntry.Topic.RETURN_REFUND
    question = factory.Sequence(lambda n: f"Question {n}?")
    keywords = ""
    answer_en = "An answer."
    answer_zh = "一个回答。"
    is_published = True


# --- vision app ---------------------------------------------------------------------------------


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "store.ProductImage"

    product = factory.SubFactory(ProductFactory)
    image = factory.django.ImageField(width=32, height=32, color="red", format="PNG")
    alt_text = factory.LazyAttribute(lambda image: image.product.name)
    position = 0


class CategorySuggestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "vision.CategorySuggestion"

    image = factory.SubFactory(ProductImageFactory)
    predicted_category = factory.SubFactory(CategoryFactory)
    confidence = 0.9
    status = "pending"
