"""Held-out evaluation of the intent classifier. Pure Python; no Django."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sklearn.metrics import accuracy_score, classification_report, f1_score

from chatbot.engine.intents import IntentClassifier
from chatbot.engine.tokenize import tokenize


class KeywordBaseline:
    """The rule a hand-written bot would use: each word votes for the intent it was seen with
    most often in training; the intent with most votes wins (ties and no votes: majority).

    Only a yardstick for :func:`evaluate_intents`; the learned model must beat it clearly.
    """

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> KeywordBaseline:
        counts: dict[str, Counter[str]] = {}
        for text, label in zip(texts, labels, strict=True):
            for token in set(tokenize(text)):
                counts.setdefault(token, Counter())[label] += 1
        self.keyword_intent_ = {token: c.most_common(1)[0][0] for token, c in counts.items()}
        self.majority_ = Counter(labels).most_common(1)[0][0]
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        predicted = []
        for text in texts:
            votes = Counter(
                self.keyword_intent_[token]
                for token in tokenize(text)
                if token in self.keyword_intent_
            )
            ranked = votes.most_common(2)
            is_clear = ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1])
            predicted.append(ranked[0][0] if is_clear else self.majority_)
        return predicted


def evaluate_intents(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    *,
    classifier: IntentClassifier | None = None,
) -> dict[str, Any]:
    """Fit on the training split and score the top intent on the test split.

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1``, ``per_intent`` (precision / recall / f1 / support per
        intent), and two yardsticks a model has to beat to be worth promoting: the
        majority class (``baseline_accuracy`` / ``baseline_macro_f1``) and
        :class:`KeywordBaseline` (``keyword_accuracy`` / ``keyword_macro_f1``).
        The clarify threshold is ignored here: it is a dialogue decision, not part of the
        classifier's accuracy.
    """
    classifier = classifier or IntentClassifier()
    classifier.fit(train_texts, train_labels)
    predicted = classifier.predict_labels(test_texts)
    majority = Counter(train_labels).most_common(1)[0][0]
    baseline = [majority] * len(test_labels)
    keyword = KeywordBaseline().fit(train_texts, train_labels).predict(test_texts)
    report = classification_report(test_labels, predicted, output_dict=True, zero_division=0)
    labels = sorted(set(test_labels) | set(predicted))
    return {
        "accuracy": float(accuracy_score(test_labels, predicted)),
        "macro_f1": float(f1_score(test_labels, predicted, average="macro", zero_division=0)),
        "baseline_accuracy": float(accuracy_score(test_labels, baseline)),
        "baseline_macro_f1": float(
            f1_score(test_labels, baseline, average="macro", labels=labels, zero_division=0)
        ),
        "keyword_accuracy": float(accuracy_score(test_labels, keyword)),
        "keyword_macro_f1": float(
            f1_score(test_labels, keyword, average="macro", labels=labels, zero_division=0)
        ),
        "per_intent": {label: report[label] for label in labels if label in report},
        "n_train": len(train_texts),
        "n_test": len(test_texts),
    }
