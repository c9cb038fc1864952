"""Django admin for churn scores: a read-only record of what each churn training wrote.

Scores are written only by the churn training (a version's rows are its output, like its
artifact), so nothing here adds or edits them; they go with their version. One row
per scored customer per version: customers are raw ids and the change list skips COUNT(*).
"""

from django.contrib import admin

from mining.models import ChurnScore


@admin.register(ChurnScore)
class ChurnScoreAdmin(admin.ModelAdmin):
    list_display = (
        "rank",
        "customer",
        "model_version",
        "probability",
        "value",
        "risk_score",
        "recency_days",
        "frequency",
    )
    list_filter = ("model_version__status",)
    list_select_related = ("customer", "model_version")
    raw_id_fields = ("customer", "model_version")
    search_fields = ("customer__name", "customer__email", "customer__external_id")
    show_full_result_count = False
    ordering = ("-model_version_id", "rank")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
