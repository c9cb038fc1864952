"""Training the intent classifier through the model registry (kind ``"intent"``).

Data: the repository's bilingual file (chatbot/data/intents.csv) plus the active
:class:`~chatbot.models.IntentExample` rows (merchant-added sentences and relabelled customer
messages). The registry runs :func:`intent_model_train` nightly (Celery beat
"chatbot-intent-nightly"), on demand from the dashboard ("Train now") and from
``manage.py train_models``; :func:`intent_gate` decides whether the new version serves.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from sklearn.metrics import accuracy_score, f1_score

from chatbot.engine.evaluate import KeywordBaseline, evaluate_intents
from chatbot.engine.intents import IntentClassifier
from chatbot.selectors.training import TrainingExample, example_key, intent_training_examples
from shopops.registry.models import ModelVersion
from shopops.registry.services import (
    ArtifactIntegrityError,
    GateDecision,
    ProgressCallback,
    Trainer,
    TrainingDataError,
    TrainingResult,
    active_model_version,
    model_version_artifact_verify,
)

KIND = "intent"
#: The served model (fitted on every example): what ``chatbot.services.nlu.nlu_engine`` loads.
ARTIFACT_NAME = "intent"
#: The evaluated model (fitted on the training split only), kept so the next training can
#: re-score it on sentences neither model saw.
HELD_OUT_ARTIFACT_NAME = "intent_heldout"
#: The sentences the evaluated model was fitted on (hashed), so the next training can tell
#: which of its held-out sentences the active version's evaluated model never saw.
TRAINING_KEYS_FILE = "intent_training_keys.json"
#: Accuracy a new version may lose against the active one and still be promoted: about one
#: held-out sentence in seventy, less than the noise of a re-split.
GATE_TOLERANCE = 0.015
#: Below this many sentences unseen by both models the comparison is too noisy to trust, and
#: the gate falls back to the recorded held-out accuracies.
MIN_COMPARABLE = 20

DEFAULT_PARAMS: dict[str, Any] = {"test_fraction": 0.2, "seed": 0, "C": 20.0}


def _key_hash(text: str) -> str:
    return hashlib.sha256(example_key(text).encode("utf-8")).hexdigest()[:16]


def _rank(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}\0{example_key(text)}".encode()).hexdigest()


def intent_held_out_split(
    examples: Sequence[TrainingExample], *, test_fraction: float, seed: int
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """A seeded split stratified by intent and language, stable as examples are added.

    Within each (intent, language) group the sentences are ordered by a seeded hash of their
    text and the first ``round(n * test_fraction)`` (at least one, never all) are held out.
    A sentence's rank never depends on the others, so adding a sentence moves at most one other
    sentence of its group across the split: successive trainings hold out nearly the same
    sentences, which is what lets :func:`intent_gate` compare versions. A group of one trains.
    """
    groups: dict[tuple[str, str], list[TrainingExample]] = defaultdict(list)
    for example in examples:
        groups[(example.intent, example.language)].append(example)
    train: list[TrainingExample] = []
    test: list[TrainingExample] = []
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda example: _rank(seed, example.text))
        n_test = 0
        if len(group) >= 2:
            n_test = min(len(group) - 1, max(1, round(len(group) * test_fraction)))
        test.extend(group[:n_test])
        train.extend(group[n_test:])
    return train, test


def _scores(true: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    labels = sorted(set(true) | set(predicted))
    return {
        "accuracy": float(accuracy_score(true, predicted)),
        "macro_f1": float(
            f1_score(true, predicted, average="macro", labels=labels, zero_division=0)
        ),
    }


def _active_classifier() -> tuple[ModelVersion | None, IntentClassifier | None, set[str] | None]:
    """The active version, its evaluated (training-split) classifier and the hashes of the
    sentences that classifier was fitted on.

    An artifact that fails its sha256 check or predates the keys file gives ``None`` for what
    is missing; the gate then falls back to recorded accuracies.
    """
    active = active_model_version(kind=KIND)
    if active is None or not active.artifact_path:
        return active, None, None
    try:
        directory = model_version_artifact_verify(version=active)
        classifier = IntentClassifier.load(directory / HELD_OUT_ARTIFACT_NAME)
    except (ArtifactIntegrityError, OSError, KeyError, ValueError):
        return active, None, None
    keys_path = directory / TRAINING_KEYS_FILE
    keys = set(json.loads(keys_path.read_text("utf-8"))) if keys_path.exists() else None
    return active, classifier, keys


def intent_model_train(
    *, params: dict[str, Any], artifact_dir: Path, progress: ProgressCallback
) -> TrainingResult:
    """Fit on the training split and score on the held-out split; then fit the served model on
    every example, so each merchant correction is learned, whichever side of the split it fell.

    Metrics: ``accuracy`` and ``macro_f1`` on the held-out split, overall and per language
    (``accuracy_en``, ``macro_f1_zh`` ...), the keyword and majority baselines beside them,
    per-intent precision/recall/F1, and the comparison the gate uses:

    The held-out split changes as merchants add examples, so this version's held-out accuracy
    and the active version's recorded one are measured on different sentences and cannot be
    compared fairly. Instead the active version's scored model is re-scored here, on this
    training's held-out sentences that it was not fitted on (``comparable_n`` of them), beside
    the new scored model on exactly the same sentences: ``comparable_accuracy`` (new) and
    ``active_comparable_accuracy`` (active). Neither model saw those sentences, so the two
    numbers are comparable; see :func:`intent_gate`.

    Artifacts: ``intent`` (the served model, all examples) and ``intent_heldout`` (the scored
    model, training split only, with the hashes of its sentences): the next training re-scores
    ``intent_heldout``, never the served model, which has seen every held-out sentence. The
    metrics therefore estimate the served model's accuracy with one split's worth less data.
    """
    params = {**DEFAULT_PARAMS, **params}
    test_fraction = float(params["test_fraction"])
    if not 0.05 <= test_fraction <= 0.5:
        raise TrainingDataError("test_fraction must be between 0.05 and 0.5.")
    progress(0.05, "loading examples")
    examples = intent_training_examples()
    train, test = intent_held_out_split(
        examples, test_fraction=test_fraction, seed=int(params["seed"])
    )
    train_intents = {example.intent for example in train}
    if len(train_intents) < 2 or not test:
        raise TrainingDataError(
            f"Intent training needs at least two intents and a held-out sentence; there are "
            f"{len(examples)} examples of {len(train_intents)} intent(s)."
        )
    train_texts = [example.text for example in train]
    train_labels = [example.intent for example in train]
    test_texts = [example.text for example in test]
    test_labels = [example.intent for example in test]

    progress(0.2, f"fitting on {len(train)} examples")
    classifier = IntentClassifier(
        threshold=float(settings.CHAT_CONFIDENCE_THRESHOLD), C=float(params["C"]), random_state=0
    )
    evaluation = evaluate_intents(
        train_texts, train_labels, test_texts, test_labels, classifier=classifier
    )
    progress(0.7, "scoring per language and against the active model")
    predicted = classifier.predict_labels(test_texts)
    keyword = KeywordBaseline().fit(train_texts, train_labels).predict(test_texts)
    metrics: dict[str, Any] = {
        "accuracy": evaluation["accuracy"],
        "macro_f1": evaluation["macro_f1"],
        "keyword_accuracy": evaluation["keyword_accuracy"],
        "keyword_macro_f1": evaluation["keyword_macro_f1"],
        "baseline_accuracy": evaluation["baseline_accuracy"],
        "baseline_macro_f1": evaluation["baseline_macro_f1"],
    }
    per_language: dict[str, dict[str, float]] = {}
    for language in sorted({example.language for example in test}):
        rows = [i for i, example in enumerate(test) if example.language == language]
        true = [test_labels[i] for i in rows]
        scores = _scores(true, [predicted[i] for i in rows])
        keyword_scores = _scores(true, [keyword[i] for i in rows])
        per_language[language] = {
            **scores,
            "keyword_accuracy": keyword_scores["accuracy"],
            "keyword_macro_f1": keyword_scores["macro_f1"],
            "n_test": len(rows),
        }
        metrics[f"accuracy_{language}"] = scores["accuracy"]
        metrics[f"macro_f1_{language}"] = scores["macro_f1"]

    active, active_classifier, active_keys = _active_classifier()
    comparable = [
        i
        for i, example in enumerate(test)
        if active_keys is not None and _key_hash(example.text) not in active_keys
    ]
    metrics["comparable_n"] = len(comparable)
    metrics["comparable_accuracy"] = None
    metrics["active_comparable_accuracy"] = None
    metrics["active_version"] = active.version if active else None
    if active_classifier is not None and comparable:
        true = [test_labels[i] for i in comparable]
        active_predicted = active_classifier.predict_labels([test_texts[i] for i in comparable])
        metrics["comparable_accuracy"] = float(
            accuracy_score(true, [predicted[i] for i in comparable])
        )
        metrics["active_comparable_accuracy"] = float(accuracy_score(true, active_predicted))

    metrics.update(
        {
            "n_served": len(examples),
            "n_train": len(train),
            "n_test": len(test),
            "n_examples_database": sum(example.source != "file" for example in examples),
            "n_intents": len(train_intents),
            "per_language": per_language,
            "per_intent": evaluation["per_intent"],
        }
    )
    progress(0.8, f"fitting the served model on all {len(examples)} examples")
    served = IntentClassifier(
        threshold=classifier.threshold, C=classifier.C, random_state=classifier.random_state
    ).fit([example.text for example in examples], [example.intent for example in examples])
    progress(0.95, "saving")
    served.save(Path(artifact_dir) / ARTIFACT_NAME)
    classifier.save(Path(artifact_dir) / HELD_OUT_ARTIFACT_NAME)
    (Path(artifact_dir) / TRAINING_KEYS_FILE).write_text(
        json.dumps(sorted({_key_hash(text) for text in train_texts})), "utf-8"
    )
    progress(1.0, "done")
    return TrainingResult(metrics=metrics, data_window_end=timezone.now(), params=params)


def intent_gate(new: dict[str, Any], active: dict[str, Any]) -> GateDecision:
    """Promote when held-out accuracy is not worse than the active model's beyond tolerance.

    Compares both models on the same unseen sentences (``comparable_accuracy`` against
    ``active_comparable_accuracy``, measured in :func:`intent_model_train`) when there are at
    least :data:`MIN_COMPARABLE` of them; otherwise, for instance when the active artifact
    cannot be read, it compares the recorded held-out accuracies.
    """
    if new.get("accuracy") is None:
        return GateDecision(False, "new model has no accuracy")
    if not active:
        return GateDecision(True, "no active model to compare with")
    if (
        new.get("active_comparable_accuracy") is not None
        and new.get("comparable_accuracy") is not None
        and int(new.get("comparable_n") or 0) >= MIN_COMPARABLE
    ):
        new_value = float(new["comparable_accuracy"])
        old_value = float(new["active_comparable_accuracy"])
        basis = f"on the same {new['comparable_n']} held-out sentences"
    elif active.get("accuracy") is not None:
        new_value, old_value = float(new["accuracy"]), float(active["accuracy"])
        basis = "recorded held-out accuracy"
    else:
        return GateDecision(True, "active model has no accuracy to compare with")
    passed = new_value - old_value >= -GATE_TOLERANCE
    verdict = "not worse than" if passed else "worse than"
    return GateDecision(
        passed,
        f"accuracy {new_value:.4f} {verdict} active {old_value:.4f} {basis} "
        f"(tolerance {GATE_TOLERANCE})",
    )


def intent_trainer() -> Trainer:
    return Trainer(
        kind=KIND,
        train=intent_model_train,
        gate=intent_gate,
        default_params=dict(DEFAULT_PARAMS),
        title="Chat intent classifier",
    )
