"""REST API serializers: ``*Input`` ones check the shape of a request, ``*Output`` ones render.

Rules that need the database or the acting user (unknown products, who may post an event for
whom, prices and totals) are not here but in ``store.services``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shopops.store.models import Category, Customer, Event, Order, OrderItem, Product, ProductImage
from shopops.store.services import EVENT_BATCH_LIMIT, PRODUCT_EVENT_TYPES

#: The largest ``metadata`` object an event may carry, as compact JSON.
EVENT_METADATA_MAX_BYTES = 4096
#: The most lines one order may have.
ORDER_ITEM_LIMIT = 500

#: The largest id a database row may have (a signed 64-bit integer); larger ids are refused
#: here because the databases fail (SQLite) on them rather than finding nothing.
ID_MAX = 2**63 - 1

currency_code = RegexValidator(r"^[A-Z]{3}$", "A currency is three capital letters (ISO 4217).")


class BoundedListField(serializers.ListField):
    """A list whose length is checked before its items are, so a huge list costs nothing.

    Item errors come back keyed by index: ``{"3": {"product": ["..."]}}``.
    """

    def to_internal_value(self, data):
        if self.max_length is not None and isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


def _json_object(value: Any, *, what: str) -> dict:
    """``value`` if it is a JSON object that PostgreSQL's jsonb can store (no NUL characters)."""
    if not isinstance(value, dict):
        raise serializers.ValidationError(f"{what} must be a JSON object.")
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "\x00" in item:
            raise serializers.ValidationError(f"{what} may not contain null characters.")
    return value


def _category_path(serializer: serializers.Serializer, category: Category) -> str:
    # The view puts every path in the context (one query); fall back to walking the tree.
    paths = serializer.context.get("category_paths") or {}
    return paths.get(category.pk) or category.path


# --- catalogue ------------------------------------------------------------------------------------


class CategoryOutputSerializer(serializers.ModelSerializer):
    path = serializers.SerializerMethodField(help_text='"Root / Child / Leaf".')

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent", "path", "description"]
        read_only_fields = fields

    def get_path(self, category: Category) -> str:
        return _category_path(self, category)


class CategoryInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["name", "slug", "parent", "description"]


class CategoryReferenceSerializer(serializers.ModelSerializer):
    path = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "path"]
        read_only_fields = fields

    def get_path(self, category: Category) -> str:
        return _category_path(self, category)


class ProductImageOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["id", "url", "alt_text", "position"]
        read_only_fields = fields

    def get_url(self, image: ProductImage) -> str:
        request = self.context.get("request")
        url = image.image.url
        return request.build_absolute_uri(url) if request is not None else url


class ProductImageInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProductImage
        fields = ["image", "alt_text", "position"]


class ProductOutputSerializer(serializers.ModelSerializer):
    category = CategoryReferenceSerializer(allow_null=True)
    images = ProductImageOutputSerializer(many=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "description",
            "price",
            "currency",
            "stock",
            "is_in_stock",
            "is_active",
            "attributes",
            "category",
            "images",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProductInputSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(max_length=3, default="GBP", validators=[currency_code])

    class Meta:
        model = Product
        fields = [
            "sku",
            "name",
            "description",
            "price",
            "currency",
            "stock",
            "is_active",
            "attributes",
            "category",
        ]

    def validate_attributes(self, value: Any) -> dict:
        return _json_object(value, what="Attributes")


# --- customers ----------------------------------------------------------------------------------


class CustomerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "name",
            "email",
            "country",
            "user",
            "first_seen_at",
            "created_at",
        ]
        read_only_fields = fields


class CustomerInputSerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(),
        allow_null=True,
        required=False,
        help_text="The login linked to this customer, if any.",
    )

    class Meta:
        model = Customer
        fields = ["external_id", "name", "email", "country", "user", "first_seen_at"]

    def validate_external_id(self, value: str | None) -> str | None:
        # Blank means "none": many customers have no external id, and "" would collide.
        return value or None

    def validate_user(self, value):
        taken = Customer.objects.filter(user=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if value is not None and taken.exists():
            raise serializers.ValidationError("This user is already linked to another customer.")
        return value


# --- orders ---------------------------------------------------------------------------------------


class OrderItemProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name"]
        read_only_fields = fields


class OrderItemOutputSerializer(serializers.ModelSerializer):
    product = OrderItemProductSerializer()
    line_total = serializers.DecimalField(max_digits=16, decimal_places=3, read_only=True)

    class Meta:
        model = OrderItem
        fields = ["id", "product", "quantity", "unit_price", "line_total"]
        read_only_fields = fields


class OrderOutputSerializer(serializers.ModelSerializer):
    items = OrderItemOutputSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "external_number",
            "customer",
            "status",
            "placed_at",
            "email",
            "country",
            "currency",
            "item_count",
            "total",
            "items",
        ]
        read_only_fields = fields


class OrderItemInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, max_value=ID_MAX, help_text="Product id.")
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)


class OrderCreateInputSerializer(serializers.Serializer):
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="Customer id; leave out for a guest order.",
    )
    external_number = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        allow_blank=True,
        help_text="The shop's order number; generated when left out.",
    )
    status = serializers.ChoiceField(choices=Order.Status.choices, default=Order.Status.PENDING)
    placed_at = serializers.DateTimeField(
        required=False, default=None, help_text="Defaults to now."
    )
    email = serializers.EmailField(required=False, default="", allow_blank=True)
    country = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    items = BoundedListField(
        child=OrderItemInputSerializer(),
        allow_empty=False,
        max_length=ORDER_ITEM_LIMIT,
        help_text="Prices come from the products; totals are computed by the server.",
    )

    def validate_external_number(self, value: str) -> str:
        if value and Order.objects.filter(external_number=value).exists():
            raise serializers.ValidationError("An order with this number already exists.")
        return value


class OrderUpdateInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ["status", "email", "country"]


# --- behaviour events -----------------------------------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "description": "A product id (JSON number) or SKU (JSON string).",
    }
)
class ProductReferenceField(serializers.Field):
    """A product given by id (a JSON integer) or by SKU (a JSON string)."""

    default_error_messages = {
        "invalid": "Give a product id (a number) or a SKU (a string).",
        "blank": "The SKU may not be blank.",
        "max_length": "A SKU has at most 64 characters.",
    }

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool):  # bool is an int subclass: refuse `true`
            self.fail("invalid")
        if isinstance(data, int):
            if not 1 <= data <= ID_MAX:
                self.fail("invalid")
            return data
        if isinstance(data, str):
            value = data.strip()
            if not value:
                self.fail("blank")
            if len(value) > 64:
                self.fail("max_length")
            return value
        self.fail("invalid")
        return data  # unreachable: fail() raises

    def to_representation(self, value: Any) -> Any:
        return value


class EventInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Event.Type.choices)
    product = ProductReferenceField(required=False, allow_null=True, default=None)
    customer = serializers.IntegerField(
        min_value=1,
        max_value=ID_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="Customer id; staff only (a customer's events are always their own).",
    )
    session_key = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    query = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    occurred_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Defaults to now."
    )
    metadata = serializers.JSONField(required=False, default=dict)

    def validate_metadata(self, value: Any) -> dict:
        if value is None:
            return {}
        _json_object(value, what="Metadata")
        if len(json.dumps(value, separators=(",", ":"))) > EVENT_METADATA_MAX_BYTES:
            raise serializers.ValidationError(
                f"Metadata may hold at most {EVENT_METADATA_MAX_BYTES} bytes of JSON."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] in PRODUCT_EVENT_TYPES and attrs.get("product") is None:
            raise serializers.ValidationError(
                {"product": [f"A {attrs['type']} event needs a product."]}
            )
        if attrs["type"] == Event.Type.SEARCH and not attrs.get("query"):
            raise serializers.ValidationError({"query": ["A search event needs its query."]})
        return attrs


class EventBatchInputSerializer(serializers.Serializer):
    events = BoundedListField(
        child=EventInputSerializer(),
        allow_empty=False,
        max_length=EVENT_BATCH_LIMIT,
        help_text=f"1 to {EVENT_BATCH_LIMIT} events; all are written or none.",
    )


class EventBatchOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()


# For the schema: how a rejected batch reports its events' errors.
class EventBatchErrorSerializer(serializers.Serializer):
    events = serializers.DictField(
        child=serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
        help_text="Event index -> field -> messages.",
    )
