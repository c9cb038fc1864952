"""Forms of the chatbot's merchant pages: they validate, the services in
chatbot/services/merchant.py write (and validate again)."""

from __future__ import annotations

from django import forms

from chatbot.models import Conversation, FaqEntry
from chatbot.selectors.training import intent_names

ANALYTICS_DAYS = (
    (7, "Last 7 days"),
    (30, "Last 30 days"),
    (90, "Last 90 days"),
    (365, "Last year"),
)


def _intent_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(name, name) for name in intent_names()]
    return [("", blank), *choices] if blank is not None else choices


class TranscriptFilterForm(forms.Form):
    mode = forms.ChoiceField(required=False)
    intent = forms.ChoiceField(required=False)
    fallback = forms.BooleanField(required=False, label="Fallbacks only")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mode"].choices = [("", "Any mode"), *Conversation.Mode.choices]
        self.fields["intent"].choices = _intent_choices("Any intent")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("The “from” date must be on or before the “to” date.")
        return data


class RelabelForm(forms.Form):
    intent = forms.ChoiceField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["intent"].choices = _intent_choices()


class IntentExampleForm(forms.Form):
    text = forms.CharField(max_length=500, label="Example sentence")
    intent = forms.ChoiceField()
    language = forms.ChoiceField(
        required=False,
        choices=[("", "Detect"), ("en", "English"), ("zh", "Chinese")],
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["intent"].choices = _intent_choices("Choose an intent")


class FaqEntryForm(forms.Form):
    topic = forms.ChoiceField(choices=FaqEntry.Topic.choices)
    question = forms.CharField(max_length=300)
    keywords = forms.CharField(
        max_length=300,
        required=False,
        help_text="Comma-separated words that pick this entry among others of its topic.",
    )
    answer_en = forms.CharField(label="Answer (English)", widget=forms.Textarea(attrs={"rows": 4}))
    answer_zh = forms.CharField(
        label="Answer (Chinese)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown to customers who write in Chinese; without it they get the English one.",
    )
    is_published = forms.BooleanField(required=False, initial=True, label="Published")
    position = forms.IntegerField(min_value=0, max_value=32767, initial=0)


class AnalyticsPeriodForm(forms.Form):
    days = forms.TypedChoiceField(coerce=int, choices=ANALYTICS_DAYS, initial=30, required=False)
