from django.contrib import admin

from chatbot.models import Conversation, FaqEntry, IntentExample, Message


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = [
        "created_at",
        "sender",
        "text",
        "intent",
        "confidence",
        "is_fallback",
        "corrected_intent",
    ]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        # Transcripts are a record of what was said; staff reply through the live console.
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "mode",
        "language",
        "message_count",
        "created_at",
        "last_message_at",
    ]
    list_filter = ["mode", "language"]
    search_fields = ["customer__name", "customer__email", "token"]
    raw_id_fields = ["customer", "assigned_to"]
    readonly_fields = ["token", "created_at", "last_message_at", "message_count"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "conversation",
        "sender",
        "text",
        "intent",
        "confidence",
        "is_fallback",
        "corrected_intent",
        "created_at",
    ]
    list_filter = ["sender", "intent", "is_fallback"]
    search_fields = ["text"]
    raw_id_fields = ["conversation", "staff_user", "corrected_by"]


@admin.register(IntentExample)
class IntentExampleAdmin(admin.ModelAdmin):
    list_display = ["text", "intent", "language", "source", "is_active", "created_at"]
    list_filter = ["intent", "language", "source", "is_active"]
    search_fields = ["text"]
    raw_id_fields = ["message", "created_by"]


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ["question", "topic", "is_published", "position", "updated_at"]
    list_filter = ["topic", "is_published"]
    search_fields = ["question", "keywords", "answer_en", "answer_zh"]
