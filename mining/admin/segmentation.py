"""Django admin for customer segments: a read-only record of what each training wrote.

Segments and memberships are written only by the segmentation training (a version's rows are
its output, like its artifact), so nothing here adds or edits them. Memberships run to one row
per customer per version: customers are raw ids and the change list skips the full COUNT(*).
"""

from django.contrib import admin

from mining.models import CustomerSegment, Segment


class _ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Segment)
class SegmentAdmin(_ReadOnlyAdmin):
    list_display = (
        "name",
        "key",
        "model_version",
        "size",
        "customer_share",
        "revenue_share",
        "is_noise",
        "match_distance",
    )
    list_filter = ("model_version__status", "is_noise")
    list_select_related = ("model_version",)
    search_fields = ("name",)
    ordering = ("-model_version__version", "-size")


@admin.register(CustomerSegment)
class CustomerSegmentAdmin(_ReadOnlyAdmin):
    list_display = (
        "customer",
        "segment",
        "model_version",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
    )
    list_filter = ("model_version__status",)
    list_select_related = ("customer", "segment", "model_version")
    raw_id_fields = ("customer", "segment", "model_version")
    search_fields = ("customer__name", "customer__email", "customer__external_id")
    show_full_result_count = False
    ordering = ("-model_version_id", "segment_id", "customer_id")
