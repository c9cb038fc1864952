"""The shop's own data: catalogue, customers, orders and behaviour events.

Indexes follow the queries that training and serving run: orders by customer and date, items by
product, events by customer/product and time.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class Category(models.Model):
    """A node of the category tree (``parent`` is null for a root)."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    description = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "name"], name="category_unique_name_in_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.path

    @property
    def path(self) -> str:
        names = [self.name]
        node, seen = self.parent, {self.pk}
        while node is not None and node.pk not in seen:  # guard against a hand-made cycle
            names.append(node.name)
            seen.add(node.pk)
            node = node.parent
        return " / ".join(reversed(names))


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    price = models.DecimalField(
        max_digits=12, decimal_places=3, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, default="GBP")
    # Null means the shop does not track stock for this product (imported catalogues).
    stock = models.IntegerField(null=True, blank=True, validators=[MinValueValidator(0)])
    is_active = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict, blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["is_active", "category"], name="product_active_category")]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(stock__gte=0), name="product_stock_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    @property
    def is_in_stock(self) -> bool:
        return self.stock is None or self.stock > 0


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to="products/%Y/%m")
    alt_text = models.CharField(max_length=255, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product", "position", "id"]

    def __str__(self) -> str:
        return f"image {self.position} of {self.product.sku}"


class Customer(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer",
    )
    external_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    country = models.CharField(max_length=64, blank=True)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["country"], name="customer_country")]

    def __str__(self) -> str:
        return self.name or self.external_id or f"customer {self.pk}"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        RETURNED = "returned", "Returned"

    #: statuses whose revenue counts as a sale
    SALE_STATUSES = (Status.PENDING, Status.PAID, Status.SHIPPED, Status.DELIVERED)

    external_number = models.CharField(max_length=64, unique=True)
    # Null for guest orders.
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PAID)
    placed_at = models.DateTimeField()
    email = models.EmailField(blank=True)
    country = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3, default="GBP")
    item_count = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "placed_at"], name="order_customer_placed"),
            models.Index(fields=["placed_at"], name="order_placed"),
            models.Index(fields=["status", "placed_at"], name="order_status_placed"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.external_number

    @property
    def is_return(self) -> bool:
        return self.status == self.Status.RETURNED


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    # Always positive: a return is an order with status "returned", not a negative line.
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        ordering = ["order", "id"]
        indexes = [models.Index(fields=["product", "order"], name="orderitem_product_order")]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="orderitem_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="orderitem_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id} in {self.order_id}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class Event(models.Model):
    """One behaviour event from the storefront: a view, add-to-cart, purchase, search or click."""

    class Type(models.TextChoices):
        VIEW = "view", "View"
        CART = "cart", "Add to cart"
        PURCHASE = "purchase", "Purchase"
        SEARCH = "search", "Search"
        CLICK = "click", "Click"

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    # Anonymous visitors are tracked by session only.
    session_key = models.CharField(max_length=64, blank=True)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    event_type = models.CharField(max_length=16, choices=Type.choices)
    query = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="event_customer_time"),
            models.Index(fields=["product", "event_type"], name="event_product_type"),
            models.Index(fields=["event_type", "occurred_at"], name="event_type_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | ~Q(session_key=""),
                name="event_has_customer_or_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ImportRun(models.Model):
    """One run of the transactions importer: what it read, wrote and rejected."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    file_name = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_format = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lines_read = models.PositiveIntegerField(default=0)
    orders_created = models.PositiveIntegerField(default=0)
    returns_created = models.PositiveIntegerField(default=0)
    guest_orders_created = models.PositiveIntegerField(default=0)
    orders_skipped = models.PositiveIntegerField(default=0)
    items_created = models.PositiveIntegerField(default=0)
    customers_created = models.PositiveIntegerField(default=0)
    products_created = models.PositiveIntegerField(default=0)
    rejected_by_reason = models.JSONField(default=dict, blank=True)
    report_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"import of {self.file_name} ({self.status})"

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected_by_reason.values())
