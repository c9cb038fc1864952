from datetime import timedelta

from django import forms


class PeriodForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    MAX_SPAN = timedelta(days=3 * 366)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("The start date must be on or before the end date.")
            if end - start > self.MAX_SPAN:
                raise forms.ValidationError("Choose a period of at most three years.")
        return data
