"""The intent model's training examples: the repository's bilingual file plus the database's
active merchant-added and relabelled examples."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Count, Q

from chatbot.engine.intents import INTENTS
from chatbot.engine.tokenize import normalize
from chatbot.models import IntentExample
from shopops.registry.models import ModelVersion

INTENTS_CSV = Path(__file__).resolve().parents[1] / "data" / "intents.csv"


@dataclass(frozen=True)
class TrainingExample:
    text: str
    intent: str
    language: str
    source: str  # "file", "merchant" or "relabel"


def example_key(text: str) -> str:
    """Two examples with this same key are the same sentence (case, width and spacing aside)."""
    return " ".join(normalize(text).lower().split())


def intent_file_examples(*, path: Path = INTENTS_CSV) -> list[TrainingExample]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            TrainingExample(
                text=row["text"].strip(),
                intent=row["intent"].strip(),
                language=(row.get("language") or "en").strip() or "en",
                source="file",
            )
            for row in csv.DictReader(handle)
            if row["text"].strip() and row["intent"].strip()
        ]


def intent_database_examples() -> list[TrainingExample]:
    rows = (
        IntentExample.objects.filter(is_active=True)
        .order_by("created_at", "id")
        .values_list("text", "intent", "language", "source")
    )
    return [
        TrainingExample(text=text, intent=intent, language=language or "en", source=source)
        for text, intent, language, source in rows
    ]


def intent_training_examples(*, path: Path = INTENTS_CSV) -> list[TrainingExample]:
    """Every example the next training uses, one per sentence.

    A database example replaces a file example of the same sentence (a merchant's relabel
    corrects the file as well as live messages), and a newer database example replaces an
    older one, so one sentence never trains two intents.
    """
    examples: dict[str, TrainingExample] = {}
    for example in [*intent_file_examples(path=path), *intent_database_examples()]:
        key = example_key(example.text)
        if key:
            examples.pop(key, None)
            examples[key] = example
    return list(examples.values())


def intent_names() -> list[str]:
    """The intents a merchant may label with: those the classifier is built to recognise."""
    return list(INTENTS)


def intent_example_counts() -> list[dict]:
    """Per intent: examples in the file, active and inactive database examples (one query)."""
    file_counts: dict[str, int] = {}
    for example in intent_file_examples():
        file_counts[example.intent] = file_counts.get(example.intent, 0) + 1
    database = {
        row["intent"]: row
        for row in IntentExample.objects.values("intent").annotate(
            active=Count("id", filter=Q(is_active=True)),
            inactive=Count("id", filter=Q(is_active=False)),
            relabelled=Count("id", filter=Q(is_active=True, source=IntentExample.Source.RELABEL)),
        )
    }
    rows = []
    for intent in sorted(set(intent_names()) | set(file_counts) | set(database)):
        row = database.get(intent, {})
        rows.append(
            {
                "intent": intent,
                "file": file_counts.get(intent, 0),
                "active": row.get("active", 0),
                "inactive": row.get("inactive", 0),
                "relabelled": row.get("relabelled", 0),
                "total": file_counts.get(intent, 0) + row.get("active", 0),
            }
        )
    return rows


def intent_examples_list(*, intent: str | None = None, include_inactive: bool = False):
    """Database examples (newest first) with who added them and the message they came from."""
    examples = IntentExample.objects.select_related("created_by", "message").order_by(
        "intent", "-created_at", "-id"
    )
    if intent:
        examples = examples.filter(intent=intent)
    if not include_inactive:
        examples = examples.filter(is_active=True)
    return examples


def intent_model_versions(*, limit: int = 20) -> list[ModelVersion]:
    """The newest intent model versions, newest first (the registry's rows of kind "intent")."""
    return list(ModelVersion.objects.filter(kind="intent").order_by("-version")[:limit])


def intent_model_per_intent_rows(*, metrics: dict) -> list[dict]:
    """A version's per-intent precision/recall/F1, worst F1 first (what to teach next)."""
    rows = [
        {
            "intent": intent,
            "precision": scores.get("precision"),
            "recall": scores.get("recall"),
            "f1": scores.get("f1-score"),
            "support": int(scores.get("support") or 0),
        }
        for intent, scores in (metrics.get("per_intent") or {}).items()
        if isinstance(scores, dict)
    ]
    return sorted(rows, key=lambda row: (row["f1"] if row["f1"] is not None else 0, row["intent"]))
