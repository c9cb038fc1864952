"""Intent training through the registry: data, held-out split, metrics, artifact and gate."""

from pathlib import Path

import pytest

from chatbot.engine.intents import INTENTS, IntentClassifier
from chatbot.selectors.training import (
    TrainingExample,
    intent_file_examples,
    intent_training_examples,
)
from chatbot.services import merchant
from chatbot.services.training import (
    GATE_TOLERANCE,
    KIND,
    intent_gate,
    intent_held_out_split,
)
from shopops.registry import services as registry
from shopops.registry.models import ModelVersion
from tests.factories import IntentExampleFactory, MessageFactory

FILE_EXAMPLES = len(intent_file_examples())


def test_the_intent_kind_is_registered_for_the_nightly_and_on_demand_trainings(settings):
    assert KIND in registry.trainer_kinds()
    nightly = settings.CELERY_BEAT_SCHEDULE["chatbot-intent-nightly"]
    assert nightly["task"] == "shopops.registry.tasks.model_training_enqueue_task"
    assert nightly["args"] == ("intent",)


@pytest.mark.django_db
def test_training_beats_the_keyword_baseline_overall_and_per_language(settings):
    # when
    version = registry.model_training_run_now(kind=KIND)

    # then
    assert version.status == ModelVersion.Status.ACTIVE
    metrics = version.metrics
    assert metrics["n_train"] + metrics["n_test"] == FILE_EXAMPLES
    assert metrics["accuracy"] >= metrics["keyword_accuracy"] + 0.2
    assert metrics["macro_f1"] >= metrics["keyword_macro_f1"] + 0.2
    assert metrics["accuracy"] > metrics["baseline_accuracy"]
    for language in ("en", "zh"):
        scores = metrics["per_language"][language]
        assert scores["accuracy"] == metrics[f"accuracy_{language}"]
        assert scores["accuracy"] > scores["keyword_accuracy"]
        assert scores["macro_f1"] > scores["keyword_macro_f1"]
    assert sorted(metrics["per_intent"]) == sorted(INTENTS)
    assert metrics["n_served"] == FILE_EXAMPLES
    # The served artifact is what nlu_engine() loads: <artifact dir>/intent.{npz,json}.
    served = IntentClassifier.load(Path(version.artifact_path) / "intent")
    scored = IntentClassifier.load(Path(version.artifact_path) / "intent_heldout")
    assert sorted(served.classes_) == sorted(INTENTS)
    assert served.predict_labels(["where is my order", "你好"]) == ["order_status", "greet"]
    assert served.threshold == settings.CHAT_CONFIDENCE_THRESHOLD
    # The scored model never saw the held-out sentences; the served one learned them too.
    scored_words = set(scored.word_vectorizer_.vocabulary_)
    served_words = set(served.word_vectorizer_.vocabulary_)
    assert scored_words < served_words


def test_the_held_out_split_is_stratified_seeded_and_stable_as_examples_are_added():
    examples = [
        TrainingExample(f"sentence {intent} {i}", intent, "en", "file")
        for intent in ("greet", "thanks")
        for i in range(10)
    ] + [TrainingExample("only one", "goodbye", "en", "file")]

    train, test = intent_held_out_split(examples, test_fraction=0.2, seed=0)
    again_train, again_test = intent_held_out_split(examples, test_fraction=0.2, seed=0)
    grown_train, grown_test = intent_held_out_split(
        [*examples, TrainingExample("sentence greet new", "greet", "en", "merchant")],
        test_fraction=0.2,
        seed=0,
    )
    _, other_seed_test = intent_held_out_split(examples, test_fraction=0.2, seed=1)

    assert len(train) == 17
    assert sorted(e.intent for e in test) == ["greet", "greet", "thanks", "thanks"]
    assert "only one" in {e.text for e in train}  # a group of one always trains
    assert (train, test) == (again_train, again_test)
    # Adding a sentence moves at most one other sentence across the split.
    assert len({e.text for e in test} - {e.text for e in grown_test}) <= 1
    assert {e.text for e in test} != {e.text for e in other_seed_test}


@pytest.mark.django_db
def test_a_relabelled_message_is_in_the_next_training_set(staff_user):
    # given a message the bot misread, and a file sentence relabelled by the merchant
    message = MessageFactory(text="yo my parcel never showed up", intent="greet", confidence=0.3)
    file_sentence = intent_file_examples()[0]
    assert file_sentence.intent == "greet"

    # when
    merchant.message_relabel(message_id=message.id, intent="order_status", staff_user=staff_user)
    IntentExampleFactory(text=file_sentence.text, intent="thanks")
    examples = intent_training_examples()
    version = registry.model_training_run_now(kind=KIND)

    # then
    learned = [e for e in examples if e.text == "yo my parcel never showed up"]
    assert learned == [
        TrainingExample("yo my parcel never showed up", "order_status", "en", "relabel")
    ]
    # The database's label replaces the file's: one sentence never trains two intents.
    assert [e.intent for e in examples if e.text == file_sentence.text] == ["thanks"]
    assert len(examples) == FILE_EXAMPLES + 1
    assert version.metrics["n_train"] + version.metrics["n_test"] == FILE_EXAMPLES + 1
    assert version.metrics["n_examples_database"] == 2
    served = IntentClassifier.load(Path(version.artifact_path) / "intent")
    assert served.predict_labels(["yo my parcel never showed up"]) == ["order_status"]


@pytest.mark.django_db
def test_an_inactive_example_does_not_train():
    IntentExampleFactory(text="hold on a sec", intent="greet", is_active=False)

    assert "hold on a sec" not in {e.text for e in intent_training_examples()}


@pytest.mark.django_db
def test_the_gate_refuses_a_worse_model_and_promotes_an_equal_one():
    # given an active version
    first = registry.model_training_run_now(kind=KIND)

    # when a much more regularised model trains on the same data, then the same setup again
    worse = registry.model_training_run_now(kind=KIND, params={"C": 0.001})
    same = registry.model_training_run_now(kind=KIND)

    # then the worse one is kept but not served
    assert worse.status == ModelVersion.Status.READY
    assert worse.gate_passed is False
    assert worse.metrics["active_version"] == first.version
    # Both models were scored on the same sentences, none of which the active one trained on.
    assert worse.metrics["comparable_n"] == first.metrics["n_test"]
    assert worse.metrics["active_comparable_accuracy"] == first.metrics["accuracy"]
    assert worse.metrics["comparable_accuracy"] < first.metrics["accuracy"] - GATE_TOLERANCE
    assert "worse than active" in worse.gate_reason
    # and a model as good as the active one is promoted
    assert same.status == ModelVersion.Status.ACTIVE
    assert same.metrics["comparable_accuracy"] == same.metrics["active_comparable_accuracy"]
    assert same.metrics["accuracy"] == first.metrics["accuracy"]
    first.refresh_from_db()
    assert first.status == ModelVersion.Status.READY


def test_the_gate_compares_the_same_sentences_and_falls_back_to_recorded_accuracy():
    active = {"accuracy": 0.90}
    comparable = {"comparable_n": 50, "comparable_accuracy": 0.80}

    refused = intent_gate(
        {"accuracy": 0.95, **comparable, "active_comparable_accuracy": 0.85}, active
    )
    within_tolerance = intent_gate(
        {"accuracy": 0.70, **comparable, "active_comparable_accuracy": 0.81}, active
    )
    too_few = intent_gate(
        {
            "accuracy": 0.89,
            "comparable_n": 5,
            "comparable_accuracy": 0.2,
            "active_comparable_accuracy": 1.0,
        },
        active,
    )

    assert refused.passed is False  # higher recorded accuracy, but worse on the same sentences
    assert within_tolerance.passed is True
    assert too_few.passed is True
    assert "recorded held-out accuracy" in too_few.reason
    assert intent_gate({"accuracy": 0.5}, {}).passed is True
    assert intent_gate({}, active).passed is False


@pytest.mark.django_db
def test_train_now_from_the_registry_queue_trains_and_promotes(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        version = registry.model_training_enqueue(kind=KIND)

    version.refresh_from_db()
    assert version.status == ModelVersion.Status.ACTIVE
    assert version.progress == 1.0
    assert (Path(version.artifact_path) / "intent.npz").is_file()
