"""Django admin for model versions: a read-only record, with promotion through the service.

Every field is read-only here because a version's status, metrics and artifact digest are only
ever written by the training and promotion services (the per-kind lock and the one-active
constraint depend on that); the "promote" action goes through ``model_version_promote``.
"""

from django.contrib import admin, messages

from shopops.registry import services
from shopops.registry.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "version",
        "status",
        "gate_passed",
        "progress",
        "created_at",
        "finished_at",
        "promoted_at",
    )
    list_filter = ("kind", "status", "gate_passed")
    search_fields = ("kind", "artifact_sha256", "code_version")
    date_hierarchy = "created_at"
    actions = ("promote",)
    fieldsets = (
        (None, {"fields": ("kind", "version", "status", "progress", "progress_message")}),
        ("Training", {"fields": ("params", "metrics", "gate_passed", "gate_reason", "error")}),
        ("Data", {"fields": ("data_window_start", "data_window_end")}),
        (
            "Artifact",
            {"fields": ("artifact_path", "artifact_sha256", "code_version", "library_versions")},
        ),
        (
            "Timings",
            {
                "fields": (
                    "created_at",
                    "started_at",
                    "finished_at",
                    "promoted_at",
                    "heartbeat_at",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        # A version is created by model_version_start, which also takes the kind's lock.
        return False

    @admin.action(description="Promote selected ready versions to active", permissions=["change"])
    def promote(self, request, queryset):
        # One version per kind can be active: promoting two of a kind would leave the last one.
        for version in queryset.order_by("kind", "version"):
            try:
                promoted = services.model_version_promote(version_id=version.id)
            except ValueError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request, f"{promoted.kind} v{promoted.version} is active.", messages.SUCCESS
                )
