"""Django admin for the vision app's tables (decisions are made on the merchant pages)."""

from django.contrib import admin

from vision.models import CategorySuggestion, PhotoSearch


@admin.register(CategorySuggestion)
class CategorySuggestionAdmin(admin.ModelAdmin):
    list_display = (
        "image",
        "predicted_category",
        "confidence",
        "status",
        "corrected_category",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status",)
    list_select_related = ("image__product", "predicted_category", "corrected_category")
    raw_id_fields = ("image", "predicted_category", "corrected_category", "model_version")
    readonly_fields = ("decided_by", "decided_at", "created_at", "updated_at")
    search_fields = ("image__product__sku", "image__product__name")


@admin.register(PhotoSearch)
class PhotoSearchAdmin(admin.ModelAdmin):
    list_display = ("created_at", "channel", "user", "result_count", "top_product", "seconds")
    list_filter = ("channel",)
    list_select_related = ("user", "top_product")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
