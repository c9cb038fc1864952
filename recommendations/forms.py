"""The merchant's form for a new A/B test: a name and two to four variants."""

from __future__ import annotations

from typing import Any

from django import forms

from recommendations import experiments

BLEND = "blend"
SERVES_CHOICES = [
    ("hybrid", "hybrid (the tuned blend served today)"),
    ("popularity", "popularity"),
    ("item-knn", "item-kNN"),
    ("als", "ALS (matrix factorisation)"),
    ("ease", "EASE"),
    ("content", "content (product text)"),
    (BLEND, "a blend of my own…"),
]


def blend_parse(text: str) -> dict[str, float]:
    """``"ease=0.7, item-knn=0.3"`` as ``{"ease": 0.7, "item-knn": 0.3}``."""
    weights: dict[str, float] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, equals, weight = part.partition("=")
        if not equals:
            raise forms.ValidationError(f"Write each blend member as name=weight, not {part!r}.")
        try:
            weights[name.strip()] = float(weight)
        except ValueError:
            raise forms.ValidationError(f"{weight.strip()!r} is not a number.") from None
    return weights


class ExperimentForm(forms.Form):
    name = forms.SlugField(max_length=64, help_text="letters, digits, - and _")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for position in range(1, experiments.MAX_VARIANTS + 1):
            required = position <= 2
            self.fields[f"variant_{position}_name"] = forms.CharField(
                max_length=32, required=required, initial="AB"[position - 1] if required else ""
            )
            self.fields[f"variant_{position}_serves"] = forms.ChoiceField(
                choices=SERVES_CHOICES, required=False, initial="hybrid"
            )
            self.fields[f"variant_{position}_blend"] = forms.CharField(
                max_length=200, required=False
            )

    def variant_rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (
                self[f"variant_{position}_name"],
                self[f"variant_{position}_serves"],
                self[f"variant_{position}_blend"],
            )
            for position in range(1, experiments.MAX_VARIANTS + 1)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        variants = []
        for position in range(1, experiments.MAX_VARIANTS + 1):
            name = (data.get(f"variant_{position}_name") or "").strip()
            if not name:
                continue
            serves = data.get(f"variant_{position}_serves") or "hybrid"
            if serves == BLEND:
                blend = blend_parse(data.get(f"variant_{position}_blend") or "")
                if not blend:
                    raise forms.ValidationError(
                        f"Variant {name!r}: give the blend, e.g. ease=0.7, item-knn=0.3."
                    )
                variants.append({"name": name, "blend": blend})
            else:
                variants.append({"name": name, "recommender": serves})
        try:
            data["variants"] = experiments.variants_clean(variants)
        except experiments.ExperimentError as error:
            raise forms.ValidationError(str(error)) from error
        return data
