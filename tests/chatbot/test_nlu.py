"""The chatbot's understanding engine: no database, no event loop."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from chatbot.engine.entities import (
    EntityExtractor,
    Product,
    Vocabulary,
    chinese_number,
    english_number,
)
from chatbot.engine.evaluate import KeywordBaseline, evaluate_intents
from chatbot.engine.intents import CLARIFY, INTENTS, IntentClassifier
from chatbot.engine.tokenize import detect_language, normalize, tokenize

INTENTS_CSV = Path(__file__).resolve().parents[2] / "chatbot" / "data" / "intents.csv"
BITEXT_CSV = Path(
    "/work/shared/data/bitext-customer-service/Bitext_Sample_Customer_Service_Training_Dataset.csv"
)

VOCABULARY = Vocabulary(
    products=(
        Product(1, "Wireless Headphones", ("headphones", "无线耳机", "耳机"), "electronics"),
        Product(2, "Coffee Mug", ("mug", "咖啡杯", "杯子"), "kitchen"),
        Product(3, "Cotton T-Shirt", ("t-shirt", "tshirt", "tee", "T恤"), "clothing"),
        Product(4, "Hoodie", ("hooded sweatshirt", "卫衣"), "clothing"),
        Product(5, "Running Shoes", ("trainers", "跑步鞋", "跑鞋"), "shoes"),
        Product(6, "Yoga Mat", ("瑜伽垫",), "sport"),
        Product(7, "Bluetooth Speaker", ("speaker", "蓝牙音箱", "音箱"), "electronics"),
    ),
    categories={
        "clothing": ("clothes", "apparel", "服装", "衣服"),
        "electronics": ("gadgets", "电子产品"),
        "kitchen": ("kitchenware", "厨房用品"),
    },
)


@pytest.fixture(scope="module")
def extractor():
    return EntityExtractor(VOCABULARY)


def _read_intents():
    with INTENTS_CSV.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def bilingual_split():
    rows = _read_intents()
    texts = [row["text"] for row in rows]
    labels = [row["intent"] for row in rows]
    languages = [row["language"] for row in rows]
    strata = [f"{label}/{language}" for label, language in zip(labels, languages, strict=True)]
    return train_test_split(
        texts, labels, languages, test_size=0.25, stratify=strata, random_state=0
    )


@pytest.fixture(scope="module")
def bilingual_classifier(bilingual_split):
    train_texts, _, train_labels, *_ = bilingual_split
    return IntentClassifier(random_state=0).fit(train_texts, train_labels)


# --- tokenisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Where is my order #100234?", "en"),
        ("我的订单到哪了", "zh"),
        ("我想买iPhone 14的手机壳", "zh"),
        ("do you sell 耳机?", "en"),
        ("12345", "en"),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language


def test_normalize_folds_full_width_characters():
    assert normalize("ＡＢＣ　１２３，ｈｅｌｌｏ") == "ABC 123,hello"


def test_tokenize_english_lowercases_words_and_keeps_numbers():
    assert tokenize("Do you have 2 RED T-shirts for £9.99? It's urgent!") == [
        "do",
        "you",
        "have",
        "2",
        "red",
        "t",
        "shirts",
        "for",
        "9.99",
        "it's",
        "urgent",
    ]


def test_tokenize_chinese_segments_words_and_drops_punctuation():
    assert tokenize("我想买两件红色的Ｔ恤，不超过３０块！") == [
        "我",
        "想",
        "买",
        "两件",
        "红色",
        "的",
        "t恤",
        "不",
        "超过",
        "30",
        "块",
    ]


# --- numerals and entities ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "value"),
    [("three", 3), ("twenty-five", 25), ("a hundred and five", 105), ("ninety nine", 99)],
)
def test_english_number(words, value):
    assert english_number(words) == value


@pytest.mark.parametrize(
    ("words", "value"),
    [("两", 2), ("十", 10), ("二十五", 25), ("三十", 30), ("三百零五", 305), ("一万二千", 12000)],
)
def test_chinese_number(words, value):
    assert chinese_number(words) == value


ENTITY_CASES = [
    (
        "I want 2 red t-shirts size M under £20",
        {"product_ids": [3], "quantity": 2, "colours": ["red"], "sizes": ["M"], "price_max": 20},
    ),
    ("three coffee mugs please", {"product_ids": [2], "quantity": 3, "price_max": None}),
    ("I want twenty-five mugs", {"product_ids": [2], "quantity": 25}),
    ("headphones between 10 and 20 pounds", {"product_ids": [1], "price_min": 10, "price_max": 20}),
    ("a mug between ten and twenty quid", {"product_ids": [2], "price_min": 10, "price_max": 20}),
    ("a hundred and five mugs", {"quantity": 105}),
    ("any speaker less than £15?", {"product_ids": [7], "price_max": 15, "quantity": None}),
    ("cheap clothes over 30 dollars", {"categories": ["clothing"], "price_min": 30}),
    ("large hoodie x3 in black", {"product_ids": [4], "sizes": ["L"], "quantity": 3}),
    ("running shoes size 42", {"product_ids": [5], "sizes": ["42"], "quantity": None}),
    ("where is order #100234", {"order_numbers": ["100234"], "quantity": None}),
    ("status of demo100123 please", {"order_numbers": ["DEMO100123"]}),
    ("it's been 10 days since I ordered", {"quantity": None, "order_numbers": []}),
    (
        "我想买两件红色的T恤，不超过三十块",
        {"product_ids": [3], "quantity": 2, "colours": ["red"], "price_max": 30},
    ),
    ("二十五元以下的耳机", {"product_ids": [1], "price_max": 25, "quantity": None}),
    ("20元以下的杯子", {"product_ids": [2], "price_max": 20}),
    ("在10到20元之间的音箱", {"product_ids": [7], "price_min": 10, "price_max": 20}),
    ("我要三双跑鞋，100块以内", {"product_ids": [5], "quantity": 3, "price_max": 100}),
    ("跑步鞋42码有吗", {"product_ids": [5], "sizes": ["42"]}),
    ("蓝色卫衣大号还有吗", {"product_ids": [4], "colours": ["blue"], "sizes": ["L"]}),
    ("订单DEMO100123到哪了", {"order_numbers": ["DEMO100123"]}),
    ("查一下订单100567", {"order_numbers": ["100567"], "quantity": None}),
    ("有电子产品吗，五百元以上", {"categories": ["electronics"], "price_min": 500}),
]


@pytest.mark.parametrize(("text", "expected"), ENTITY_CASES)
def test_extract_entities(extractor, text, expected):
    # when
    entities = extractor.extract(text)

    # then
    actual = {key: getattr(entities, key) for key in expected}
    assert actual == expected


@pytest.mark.parametrize(
    ("text", "product_id"),
    [
        ("do you have wireles headphnes", 1),
        ("blue hoodei please", 4),
        ("cofee mug", 2),
        ("runing shoes", 5),
        ("bluetooth speeker", 7),
        ("有瑜伽垫吗", 6),
    ],
)
def test_product_match_tolerates_typos(extractor, text, product_id):
    assert extractor.extract(text).product_ids == [product_id]


@pytest.mark.parametrize("text", ["smuggle the mugger", "what's the price", "hello there"])
def test_product_match_rejects_unrelated_words(extractor, text):
    assert extractor.extract(text).products == []


# --- intent classifier ----------------------------------------------------------------------


def test_intents_file_covers_every_intent_in_both_languages():
    # given
    rows = _read_intents()

    # then
    for intent in INTENTS:
        english = [r for r in rows if r["intent"] == intent and r["language"] == "en"]
        chinese = [r for r in rows if r["intent"] == intent and r["language"] == "zh"]
        assert len(english) >= 25, intent
        assert len(chinese) >= 15, intent
    assert {r["intent"] for r in rows} == set(INTENTS)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_classifier_beats_baselines_on_held_out_bilingual_data(
    bilingual_split, bilingual_classifier, language
):
    # given
    train_texts, test_texts, train_labels, test_labels, _, test_languages = bilingual_split
    rows = [
        (text, label)
        for text, label, lang in zip(test_texts, test_labels, test_languages, strict=True)
        if lang == language
    ]
    texts, labels = [text for text, _ in rows], [label for _, label in rows]
    majority = max(set(train_labels), key=train_labels.count)
    keyword = KeywordBaseline().fit(train_texts, train_labels)

    # when
    predicted = bilingual_classifier.predict_labels(texts)

    # then
    accuracy = accuracy_score(labels, predicted)
    majority_accuracy = accuracy_score(labels, [majority] * len(labels))
    keyword_accuracy = accuracy_score(labels, keyword.predict(texts))
    print(
        f"bilingual {language}: accuracy {accuracy:.3f}, keyword baseline "
        f"{keyword_accuracy:.3f}, majority baseline {majority_accuracy:.3f}"
    )
    assert accuracy >= 0.6
    assert accuracy >= majority_accuracy + 0.5
    assert accuracy >= keyword_accuracy + 0.2


def test_evaluate_intents_reports_metrics_above_baseline(bilingual_split):
    train_texts, test_texts, train_labels, test_labels, *_ = bilingual_split

    metrics = evaluate_intents(train_texts, train_labels, test_texts, test_labels)

    assert metrics["accuracy"] >= metrics["baseline_accuracy"] + 0.5
    assert metrics["macro_f1"] >= metrics["baseline_macro_f1"] + 0.5
    assert metrics["accuracy"] >= metrics["keyword_accuracy"] + 0.2
    assert metrics["macro_f1"] >= metrics["keyword_macro_f1"] + 0.2
    assert set(metrics["per_intent"]) == set(INTENTS)
    assert metrics["n_test"] == len(test_texts)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("where is my order #100234", "order_status"),
        ("hello there", "greet"),
        ("我要退货", "return_refund"),
        ("转人工", "contact_human"),
    ],
)
def test_classifier_predicts_clear_requests_confidently(bilingual_classifier, text, intent):
    [(predicted, confidence)] = bilingual_classifier.predict([text])

    assert predicted == intent
    assert confidence >= bilingual_classifier.threshold


@pytest.mark.parametrize("text", ["asdkjh qwpoeiru zxcmvn", "blorp flim zog", "", "!!!"])
def test_classifier_asks_to_clarify_gibberish(bilingual_classifier, text):
    [(predicted, confidence)] = bilingual_classifier.predict([text])

    assert predicted == CLARIFY
    assert confidence < bilingual_classifier.threshold


def test_save_load_round_trip_gives_identical_predictions(
    bilingual_split, bilingual_classifier, tmp_path
):
    # given
    _, test_texts, *_ = bilingual_split
    bilingual_classifier.save(tmp_path / "intents")

    # when
    loaded = IntentClassifier.load(tmp_path / "intents")

    # then
    assert sorted(p.name for p in tmp_path.iterdir()) == ["intents.json", "intents.npz"]
    assert loaded.predict(test_texts) == bilingual_classifier.predict(test_texts)
    assert list(loaded.classes_) == list(bilingual_classifier.classes_)


def test_scores_of_one_text_are_exactly_predict_and_predict_proba(
    bilingual_split, bilingual_classifier, tmp_path
):
    # given: held-out texts, odd ones, and the same model saved and loaded
    _, test_texts, *_ = bilingual_split
    texts = [*test_texts[::4], "", "!!!", "ＡＢＣ１２３ mugs mugs", "我想买iPhone", "x" * 500]
    bilingual_classifier.save(tmp_path / "intents")
    loaded = IntentClassifier.load(tmp_path / "intents")

    for classifier in (bilingual_classifier, loaded):
        for text in texts:
            # when
            scores = classifier.scores(text)

            # then: bit for bit, not approximately
            [(intent, confidence)] = classifier.predict([text])
            [probabilities] = classifier.predict_proba([text])
            assert (scores.intent, scores.confidence) == (intent, confidence), text
            assert scores.probabilities.tolist() == probabilities.tolist(), text
            assert list(scores.classes) == list(classifier.classes_)


def test_fit_returns_self_and_sets_fitted_attributes():
    classifier = IntentClassifier(random_state=0)

    fitted = classifier.fit(["hi", "hello", "bye", "goodbye"], ["greet", "greet", "bye", "bye"])

    assert fitted is classifier
    assert list(classifier.classes_) == ["bye", "greet"]


@pytest.mark.slow
def test_bitext_held_out_accuracy_and_macro_f1_beat_baseline():
    if not BITEXT_CSV.exists():
        pytest.skip(f"Bitext data set not found at {BITEXT_CSV}")
    # given: the file starts with a UTF-8 BOM, hence utf-8-sig
    with BITEXT_CSV.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    texts = [row["utterance"] for row in rows]
    labels = [row["intent"] for row in rows]
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=0
    )

    # when
    metrics = evaluate_intents(train_texts, train_labels, test_texts, test_labels)

    # then
    print(
        f"Bitext: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}, "
        f"majority baseline accuracy {metrics['baseline_accuracy']:.4f}, "
        f"macro-F1 {metrics['baseline_macro_f1']:.4f}; keyword baseline accuracy "
        f"{metrics['keyword_accuracy']:.4f}, macro-F1 {metrics['keyword_macro_f1']:.4f}"
    )
    assert metrics["accuracy"] >= 0.97
    assert metrics["macro_f1"] >= 0.97
    assert metrics["accuracy"] >= metrics["baseline_accuracy"] + 0.9
    assert metrics["accuracy"] >= metrics["keyword_accuracy"] + 0.3
    assert metrics["macro_f1"] >= metrics["keyword_macro_f1"] + 0.3


def test_engine_imports_no_django():
    code = (
        "import sys\n"
        "import chatbot.engine.tokenize, chatbot.engine.intents, chatbot.engine.entities\n"
        "import chatbot.engine.evaluate\n"
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)  # noqa: S603
