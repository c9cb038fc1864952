"""Django admin for the shop's tables.

Orders, order items and events run to hundreds of thousands of rows: every foreign key to them
(or to customers and products) is a raw id or an autocomplete field, never a <select> of the
whole table, and their change lists skip the second, unfiltered COUNT(*).
"""

from django.contrib import admin

from shopops.store import selectors, services
from shopops.store.models import (
    Category,
    Customer,
    Event,
    ImportRun,
    Order,
    OrderItem,
    Product,
    ProductImage,
)


class CategoryTreeFilter(admin.SimpleListFilter):
    """Filter by category, including its subcategories, with paths from one query.

    (The stock related-field filter calls ``str()`` on every category, a query per level.)
    """

    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return sorted(selectors.category_paths().items(), key=lambda item: item[1].lower())

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            category_id = int(self.value())
        except ValueError:
            return queryset.none()
        return queryset.filter(
            category_id__in=selectors.category_descendant_ids(category_id=category_id)
        )


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent")
    # __str__ is the category's path: fetch a few levels of parents with the row.
    list_select_related = ("parent__parent__parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ("image", "alt_text", "position")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "category", "price", "currency", "stock", "is_active")
    list_display_links = ("sku", "name")
    list_filter = ("is_active", CategoryTreeFilter, "currency")
    # The category column shows its path: fetch a few levels of parents with the row.
    list_select_related = ("category__parent__parent",)
    search_fields = ("sku", "name")
    autocomplete_fields = ("category",)
    readonly_fields = ("created_at", "updated_at")
    inlines = (ProductImageInline,)
    list_per_page = 50

    def save_model(self, request, obj, form, change):
        # Edits go through the store service so apps hear when what shoppers see changes.
        if change:
            services.product_update(product=obj, data={})
        else:
            super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        if formset.model is not ProductImage:
            super().save_formset(request, form, formset, change)
            return
        # Images go through the store service so apps hear about new pictures after commit.
        for image in formset.save(commit=False):
            services.product_image_save(image=image)
        for image in formset.deleted_objects:
            image.delete()


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin):
    list_display = ("__str__", "product", "position", "alt_text", "created_at")
    list_select_related = ("product",)
    search_fields = ("product__sku", "product__name", "alt_text")
    raw_id_fields = ("product",)

    def save_model(self, request, obj, form, change):
        services.product_image_save(image=obj)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("__str__", "external_id", "email", "country", "first_seen_at", "user")
    list_select_related = ("user",)
    list_filter = ("country",)
    search_fields = ("external_id", "name", "email")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)
    show_full_result_count = False


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    raw_id_fields = ("product",)
    fields = ("product", "quantity", "unit_price")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("external_number", "customer", "status", "placed_at", "item_count", "total")
    list_filter = ("status",)
    list_select_related = ("customer",)
    search_fields = ("external_number", "email", "customer__external_id")
    date_hierarchy = "placed_at"
    raw_id_fields = ("customer",)
    inlines = (OrderItemInline,)
    show_full_result_count = False


@admin.register(OrderItem)
class OrderItemAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "product", "quantity", "unit_price")
    list_select_related = ("order", "product")
    search_fields = ("order__external_number", "product__sku")
    raw_id_fields = ("order", "product")
    show_full_result_count = False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "event_type", "customer", "session_key", "product", "query")
    list_filter = ("event_type",)
    list_select_related = ("customer", "product")
    search_fields = ("session_key", "query", "customer__external_id", "product__sku")
    raw_id_fields = ("customer", "product")
    show_full_result_count = False


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """Read-only: a run is the importer's record of what it did, not something to edit."""

    list_display = (
        "file_name",
        "status",
        "started_at",
        "finished_at",
        "lines_read",
        "orders_created",
        "rejected_total",
    )
    list_filter = ("status", "file_format")
    search_fields = ("file_name", "file_sha256")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
