"""Train the intent engine on a labelled CSV and score it on another (or on a held-out split).

    python manage.py evaluate_intents --train train.csv --test test.csv
    python manage.py evaluate_intents --train data.csv --text-column utterance \
        --label-column intent --test-fraction 0.2
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from sklearn.model_selection import train_test_split

from chatbot.engine.evaluate import evaluate_intents


def _read(path: Path, *, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    if not path.is_file():
        raise CommandError(f"{path} does not exist or is not a file.")
    try:
        # utf-8-sig: exports from spreadsheets (Bitext's among them) start with a byte-order mark.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [name for name in (text_column, label_column) if name not in columns]
            if missing:
                raise CommandError(
                    f"{path} has no column {', '.join(repr(m) for m in missing)}; its columns "
                    f"are {', '.join(repr(c) for c in columns) or 'none'}. Pick them with "
                    "--text-column and --label-column."
                )
            texts, labels = [], []
            for row in reader:
                text = (row.get(text_column) or "").strip()
                label = (row.get(label_column) or "").strip()
                if text and label:
                    texts.append(text)
                    labels.append(label)
    except UnicodeDecodeError as error:
        raise CommandError(f"{path} is not UTF-8 text: {error}") from error
    except csv.Error as error:
        raise CommandError(f"{path} is not a readable CSV file: {error}") from error
    if not texts:
        raise CommandError(f"{path} has no rows with both a text and a label.")
    return texts, labels


class Command(BaseCommand):
    help = (
        "Train the chatbot's intent engine on a labelled CSV and print accuracy and macro-F1 on "
        "a test CSV (or on a stratified held-out split of the training file), beside a "
        "keyword-voting and a majority-class baseline."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--train", required=True, type=Path, help="Labelled CSV to fit on.")
        parser.add_argument(
            "--test",
            type=Path,
            help="Labelled CSV to score on; without it a held-out split of --train is used.",
        )
        parser.add_argument("--text-column", default="text", help="Column of sentences.")
        parser.add_argument("--label-column", default="intent", help="Column of intent labels.")
        parser.add_argument(
            "--test-fraction",
            type=float,
            default=0.2,
            help="Share held out (stratified) when --test is omitted (default 0.2).",
        )
        parser.add_argument("--random-state", type=int, default=0, help="Seed of the split.")
        parser.add_argument(
            "--per-intent", action="store_true", help="Also print precision/recall/F1 per intent."
        )

    def handle(self, *args, **options) -> None:
        columns = {"text_column": options["text_column"], "label_column": options["label_column"]}
        train_texts, train_labels = _read(options["train"], **columns)
        if options["test"] is not None:
            test_texts, test_labels = _read(options["test"], **columns)
            split = f"test file {options['test']}"
        else:
            fraction = options["test_fraction"]
            if not 0 < fraction < 1:
                raise CommandError("--test-fraction must be between 0 and 1.")
            try:
                train_texts, test_texts, train_labels, test_labels = train_test_split(
                    train_texts,
                    train_labels,
                    test_size=fraction,
                    stratify=train_labels,
                    random_state=options["random_state"],
                )
            except ValueError as error:
                raise CommandError(
                    f"Cannot make a stratified {fraction:.0%} held-out split: {error} "
                    "(every label needs at least two rows)."
                ) from error
            split = (
                f"stratified {fraction:.0%} held-out split of {options['train']} "
                f"(random_state {options['random_state']})"
            )
        if len(set(train_labels)) < 2:
            raise CommandError("The training data needs at least two different labels.")

        started = time.perf_counter()
        result = evaluate_intents(train_texts, train_labels, test_texts, test_labels)
        seconds = time.perf_counter() - started
        write = self.stdout.write
        write(f"Evaluated on the {split}.")
        write(
            f"train {result['n_train']} rows, test {result['n_test']} rows, "
            f"{len(set(train_labels))} intents; fit and scored in {seconds:.1f} s"
        )
        write(f"{'':22}{'accuracy':>10}{'macro-F1':>10}")
        for name, prefix in (
            ("intent engine", ""),
            ("keyword baseline", "keyword_"),
            ("majority baseline", "baseline_"),
        ):
            accuracy = result[f"{prefix}accuracy"]
            macro_f1 = result[f"{prefix}macro_f1"]
            write(f"{name:22}{accuracy:>10.4f}{macro_f1:>10.4f}")
        if options["per_intent"]:
            write(f"\n{'intent':30}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
            for intent, scores in sorted(result["per_intent"].items()):
                write(
                    f"{intent:30}{scores['precision']:>10.4f}{scores['recall']:>10.4f}"
                    f"{scores['f1-score']:>10.4f}{int(scores['support']):>9}"
                )
