"""The chatbot's tables: conversations and their messages, merchant-taught examples, FAQ answers.

A conversation's dialogue state (slots, products last mentioned, an open form) lives in
``Conversation.state`` as JSON so the websocket consumer can load it, hand it to the pure
dialogue engine, and save what comes back in one row update.
"""

import uuid

from django.conf import settings
from django.db import models

from shopops.store.models import Customer


class Conversation(models.Model):
    class Mode(models.TextChoices):
        BOT = "bot", "Bot answers"
        WAITING = "waiting", "Waiting for staff"
        HUMAN = "human", "Staff answering"
        CLOSED = "closed", "Closed"

    # The widget keeps this token (not the id) to resume a conversation across page loads; it is
    # unguessable so one visitor cannot read another's transcript.
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    session_key = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=8, default="en")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.BOT)
    state = models.JSONField(default=dict, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    handoff_reason = models.CharField(max_length=200, blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            models.Index(fields=["mode", "-last_message_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk}"


class Message(models.Model):
    class Sender(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        BOT = "bot", "Bot"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.CharField(max_length=10, choices=Sender.choices)
    text = models.TextField()
    # Structured parts of a reply: product cards, quick replies, order summaries.
    payload = models.JSONField(default=dict, blank=True)
    # What the NLU made of a customer message (empty for bot/staff messages).
    intent = models.CharField(max_length=40, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    entities = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=8, blank=True)
    is_fallback = models.BooleanField(default=False)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chat_messages",
    )
    # A merchant's correction of ``intent``; the message then becomes a training example.
    corrected_intent = models.CharField(max_length=40, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="relabelled_chat_messages",
    )
    corrected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["intent"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.sender}: {self.text[:40]}"


class IntentExample(models.Model):
    """A training sentence beyond the repository's file: added by a merchant or relabelled."""

    class Source(models.TextChoices):
        MERCHANT = "merchant", "Added by a merchant"
        RELABEL = "relabel", "Relabelled customer message"

    text = models.CharField(max_length=500)
    intent = models.CharField(max_length=40)
    language = models.CharField(max_length=8, default="en")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MERCHANT)
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="example"
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["intent", "text"]
        constraints = [
            models.UniqueConstraint(fields=["text", "intent"], name="intent_example_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.intent}: {self.text[:40]}"


class FaqEntry(models.Model):
    """A merchant-editable answer; the bot picks entries by topic (the intent) and keywords."""

    class Topic(models.TextChoices):
        RETURN_REFUND = "return_refund", "Returns and refunds"
        SHIPPING_DELIVERY = "shipping_delivery", "Shipping and delivery"
        PAYMENT_ISSUE = "payment_issue", "Payment"
        FAQ = "faq", "Other questions"

    topic = models.CharField(max_length=20, choices=Topic.choices)
    question = models.CharField(max_length=300)
    # Comma-separated words that pick this entry among several of the same topic.
    keywords = models.CharField(max_length=300, blank=True)
    answer_en = models.TextField()
    answer_zh = models.TextField(blank=True)
    is_published = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["topic", "position", "id"]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"

    def __str__(self) -> str:
        return self.question
