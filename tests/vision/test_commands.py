"""vision_train, vision_evaluate and vision_search_eval on tiny synthetic folder datasets."""

from io import StringIO

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from shopops.registry.models import ModelVersion
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory
from tests.vision.conftest import shape_png
from tests.vision.synthetic import shape_image
from vision.folders import image_folder_read
from vision.services.training import cnn_gate

TINY = [
    "--epochs",
    "3",
    "--image-size",
    "16",
    "--width",
    "8",
    "--batch-size",
    "8",
    "--threads",
    "1",
]


def _write_folder(root, layout: dict[str, tuple[str, int]], *, seed: int, count: int):
    """root/<folder>/<n>.png with ``count`` shape images per folder."""
    rng = np.random.default_rng(seed)
    for folder, (shape, _) in layout.items():
        directory = root / folder
        directory.mkdir(parents=True)
        for number in range(count):
            shape_image(shape, rng, size=32).save(directory / f"{number}.png")
    return root


LAYOUT = {"circle": ("circle", 0), "square": ("square", 0), "cross": ("cross", 0)}


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_folder_reading_handles_nested_layouts_like_the_grocery_store(tmp_path):
    _write_folder(
        tmp_path,
        {"Fruit/Apple/Granny": ("circle", 0), "Fruit/Banana": ("square", 0)},
        seed=0,
        count=2,
    )
    (tmp_path / "stray.png").write_bytes(b"no class")
    fine = image_folder_read(tmp_path)[1]
    coarse = image_folder_read(tmp_path, label_depth=2)[1]
    assert fine == ["Fruit/Apple/Granny"] * 2 + ["Fruit/Banana"] * 2
    assert coarse == ["Fruit/Apple"] * 2 + ["Fruit/Banana"] * 2


def test_train_and_evaluate_on_a_folder_dataset(db, tmp_path):
    # given
    train = _write_folder(tmp_path / "train", LAYOUT, seed=0, count=8)
    test = _write_folder(tmp_path / "test", LAYOUT, seed=1, count=4)

    # when
    trained = _run("vision_train", "--images", str(train), *TINY)
    evaluated = _run("vision_evaluate", "--images", str(test), "--model-version", "1")

    # then: registered with metrics, never promoted (its classes are not shop categories)
    version = ModelVersion.objects.get(kind="cnn")
    assert (version.version, version.status, version.gate_passed) == (1, "ready", False)
    assert version.metrics["source"] == "folder"
    assert (version.metrics["n_classes"], version.metrics["n_train"]) == (3, 19)
    assert "gate: trained on a folder dataset, not the shop's categories" in trained
    assert "validation accuracy  CNN" in trained
    lines = evaluated.splitlines()
    assert lines[0].startswith("cnn v1 on ")
    assert "12 images, 3 classes" in lines[0]
    assert lines[1].split() == ["accuracy", "macro-F1"]
    assert lines[2].split()[0] == "CNN"
    assert lines[3].split()[0] == "hand-crafted"
    # every figure printed is a proportion
    assert all(0.0 <= float(value) <= 1.0 for line in lines[2:4] for value in line.split()[-2:])


def test_search_eval_finds_catalogue_photos_among_themselves(db, tmp_path):
    # given: a folder model, and queries that are the catalogue photos themselves
    train = _write_folder(tmp_path / "train", LAYOUT, seed=0, count=6)
    _run("vision_train", "--images", str(train), *TINY)
    catalog = _write_folder(
        tmp_path / "catalog", {f"p{i}": ("circle", 0) for i in range(5)}, seed=3, count=1
    )

    # when
    output = _run(
        "vision_search_eval",
        "--catalog",
        str(catalog),
        "--queries",
        str(catalog),
        "--model-version",
        "1",
    )

    # then: each photo's nearest catalogue photo is itself
    lines = output.splitlines()
    assert lines[0] == (
        "cnn v1: 5 catalogue images of 5 products, 5 queries "
        "(0 without a catalogue product skipped)"
    )
    assert lines[2].split() == ["CNN", "1.0000", "1.0000"]
    assert lines[3].split() == ["hand-crafted", "1.0000", "1.0000"]


def test_vision_evaluate_without_a_model_explains_what_to_do(db, tmp_path):
    with pytest.raises(CommandError, match="No CNN is active yet"):
        _run("vision_evaluate", "--images", str(tmp_path))


def test_vision_train_on_a_missing_folder_fails_cleanly(db, tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        _run("vision_train", "--images", str(tmp_path / "missing"), *TINY)
    assert ModelVersion.objects.get(kind="cnn").status == "failed"


def test_the_gate_compares_validation_accuracy_within_the_tolerance(settings):
    settings.VISION_PROMOTION_TOLERANCE = 0.01
    shop = {"source": "shop"}
    assert cnn_gate({**shop, "val_accuracy": 0.90}, {"val_accuracy": 0.905}).passed is True
    assert cnn_gate({**shop, "val_accuracy": 0.88}, {"val_accuracy": 0.90}).passed is False
    assert cnn_gate({"source": "folder", "val_accuracy": 1.0}, {}).passed is False


def test_vision_train_defaults_to_the_shops_photos_and_promotes(shop):
    output = _run("vision_train", *TINY)
    version = ModelVersion.objects.get(kind="cnn")
    assert (version.status, version.metrics["source"], version.metrics["n_classes"]) == (
        "active",
        "shop",
        3,
    )
    assert output.splitlines()[-1] == "  gate: no active model to compare with"


def test_a_shop_with_one_category_fails_with_a_readable_reason(db):
    only = CategoryFactory(name="Only")
    for seed in range(3):
        ProductImageFactory(
            product=ProductFactory(category=only),
            image=ContentFile(shape_png("circle", seed), name=f"{seed}.png"),
        )
    with pytest.raises(CommandError) as raised:
        _run("vision_train", *TINY)
    assert str(raised.value) == (
        "cnn v1 failed: Training needs photos of at least two categories with 2+ images each; "
        "the shop's product images has 3 usable image(s)."
    )


def test_a_fine_folder_model_is_scored_at_a_coarser_depth(db, tmp_path):
    # given: fine classes Round/Dot, Round/Ring, Boxy/Square nested under coarse folders
    layout = {
        "Round/Dot": ("circle", 0),
        "Round/Ring": ("circle", 0),
        "Boxy/Square": ("square", 0),
    }
    train = _write_folder(tmp_path / "train", layout, seed=0, count=8)
    test = _write_folder(tmp_path / "test", layout, seed=1, count=2)
    _run("vision_train", "--images", str(train), *TINY)

    # when
    fine = _run("vision_evaluate", "--images", str(test), "--model-version", "1", "--per-class")
    coarse = _run(
        "vision_evaluate",
        "--images",
        str(test),
        "--model-version",
        "1",
        "--label-depth",
        "1",
        "--per-class",
    )

    # then
    assert "6 images, 3 classes" in fine.splitlines()[0]
    assert "6 images, 2 classes" in coarse.splitlines()[0]
    assert [line.split()[0] for line in coarse.splitlines()[4:]] == ["Boxy", "Round"]


def test_search_eval_can_match_products_by_folder_name(db, tmp_path):
    # given: the catalogue files products under a parent folder, the queries (the same
    # photos: same seed, same order) do not
    train = _write_folder(tmp_path / "train", LAYOUT, seed=0, count=6)
    _run("vision_train", "--images", str(train), *TINY)
    nested = {f"Shelf/p{i}": ("square", 0) for i in range(3)}
    flat = {f"p{i}": ("square", 0) for i in range(3)}
    catalog = _write_folder(tmp_path / "catalog", nested, seed=4, count=1)
    queries = _write_folder(tmp_path / "queries", flat, seed=4, count=1)
    args = ["--catalog", str(catalog), "--queries", str(queries), "--model-version", "1"]

    # when
    with pytest.raises(CommandError) as by_path:
        _run("vision_search_eval", *args)
    by_leaf = _run("vision_search_eval", *args, "--match-by", "leaf")

    # then: by path nothing matches; by folder name every photo finds itself
    assert str(by_path.value) == "no query folder matches a catalogue folder"
    assert by_leaf.splitlines()[2].split() == ["CNN", "1.0000", "1.0000"]
