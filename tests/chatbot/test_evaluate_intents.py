"""manage.py evaluate_intents: any labelled CSV in, accuracy and macro-F1 out."""

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

BITEXT_CSV = Path(
    "/work/shared/data/bitext-customer-service/Bitext_Sample_Customer_Service_Training_Dataset.csv"
)

SENTENCES = {
    "greet": ["hello there", "hi friend", "good morning", "hey hello", "hi there", "hello hi"],
    "refund": [
        "i want my money back",
        "refund my order please",
        "how do i get a refund",
        "money back for this",
        "please refund the money",
        "refund request for the order",
    ],
    "shipping": [
        "when will my parcel ship",
        "how long is shipping",
        "shipping time to france",
        "is shipping free",
        "parcel shipping cost",
        "ship it fast please",
    ],
}


def _write(path: Path, rows: list[tuple[str, str]], header=("text", "intent")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _rows(start: int, stop: int) -> list[tuple[str, str]]:
    return [(text, label) for label, texts in SENTENCES.items() for text in texts[start:stop]]


def _run(*args: str) -> str:
    out = StringIO()
    call_command("evaluate_intents", *args, stdout=out)
    return out.getvalue()


def test_trains_on_one_file_and_scores_the_other(tmp_path):
    train = _write(tmp_path / "train.csv", _rows(0, 4))
    test = _write(
        tmp_path / "test.csv",
        [
            ("hello good morning", "greet"),
            ("refund please", "refund"),
            ("shipping cost", "shipping"),
        ],
    )

    output = _run("--train", str(train), "--test", str(test))

    assert "train 12 rows, test 3 rows, 3 intents" in output
    engine = next(line for line in output.splitlines() if line.startswith("intent engine"))
    assert engine.split()[-2:] == ["1.0000", "1.0000"]
    assert "keyword baseline" in output
    assert "majority baseline" in output


def test_custom_columns_and_a_held_out_split(tmp_path):
    rows = [(label, text) for text, label in _rows(0, 6)]
    data = _write(tmp_path / "data.csv", rows, header=("category", "utterance"))

    output = _run(
        "--train",
        str(data),
        "--text-column",
        "utterance",
        "--label-column",
        "category",
        "--test-fraction",
        "0.5",
        "--per-intent",
    )

    assert "stratified 50% held-out split" in output
    assert "train 9 rows, test 9 rows, 3 intents" in output
    assert "refund" in output.split("intent engine")[1]  # the per-intent table


def test_a_missing_column_is_a_clear_error(tmp_path):
    data = _write(tmp_path / "data.csv", _rows(0, 4), header=("sentence", "intent"))

    with pytest.raises(CommandError, match="has no column 'text'; its columns are 'sentence'"):
        _run("--train", str(data), "--test", str(data))


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _run("--train", str(tmp_path / "nope.csv"))


def test_a_label_with_one_row_cannot_be_split(tmp_path):
    data = _write(tmp_path / "data.csv", [*_rows(0, 4), ("lonely sentence", "alone")])

    with pytest.raises(CommandError, match="every label needs at least two rows"):
        _run("--train", str(data))


def test_a_file_without_labelled_rows_is_a_clear_error(tmp_path):
    data = _write(tmp_path / "data.csv", [("", "greet"), ("hello", "")])

    with pytest.raises(CommandError, match="no rows with both a text and a label"):
        _run("--train", str(data))


@pytest.mark.skipif(not BITEXT_CSV.exists(), reason="Bitext data set not in ../shared/data")
def test_bitext_held_out_accuracy_beats_the_keyword_baseline():
    output = _run(
        "--train",
        str(BITEXT_CSV),
        "--text-column",
        "utterance",
        "--label-column",
        "intent",
    )

    lines = {line.split("  ")[0]: line.split()[-2:] for line in output.splitlines()}
    accuracy, macro_f1 = (float(value) for value in lines["intent engine"])
    keyword_accuracy, _ = (float(value) for value in lines["keyword baseline"])
    assert "train 6687 rows, test 1672 rows, 27 intents" in output
    assert accuracy >= 0.99
    assert macro_f1 >= 0.99
    assert accuracy > keyword_accuracy + 0.3
