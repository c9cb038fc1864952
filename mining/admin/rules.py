"""Association rules in the Django admin: read-only (rules change only by retraining)."""

from django.contrib import admin

from mining.models import AssociationRule


@admin.register(AssociationRule)
class AssociationRuleAdmin(admin.ModelAdmin):
    list_display = (
        "rank",
        "model_version",
        "antecedent_label",
        "consequent",
        "support",
        "confidence",
        "lift",
        "rule_count",
    )
    list_display_links = ("rank", "antecedent_label")
    list_filter = ("model_version", "antecedent_size")
    list_select_related = ("model_version", "consequent")
    search_fields = ("antecedent_label", "consequent__name", "consequent__sku")
    ordering = ("-model_version__version", "rank")
    show_full_result_count = False
    list_per_page = 100
    fields = (
        "model_version",
        "rank",
        "antecedent_ids",
        "antecedent_label",
        "antecedent_size",
        "consequent",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
        "antecedent_count",
        "consequent_count",
        "rule_count",
        "n_baskets",
    )
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
