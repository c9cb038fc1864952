"""CNN training, hand-crafted baseline, evaluation, search and folder datasets (no database)."""

import numpy as np
import pytest
import torch
from PIL import Image

from tests.vision.synthetic import SHAPES, shape_dataset
from vision.engine.cnn import CompactResNet
from vision.engine.datasets import FolderDataset, read_image_folder
from vision.engine.evaluation import classification_metrics
from vision.engine.features import HandcraftedClassifier, extract_features
from vision.engine.search import EmbeddingIndex, recall_at_k
from vision.engine.training import CnnClassifier

CHANCE = 1 / len(SHAPES)


@pytest.fixture(scope="module")
def shapes():
    """200 training and 200 test images of 4 shapes in random colours and positions."""
    return shape_dataset(200, seed=0), shape_dataset(200, seed=1)


@pytest.fixture(scope="module")
def trained(shapes):
    (images, labels), _ = shapes
    epochs_seen = []
    model = CnnClassifier(
        epochs=30,
        batch_size=16,
        lr=5e-3,
        image_size=32,
        width=16,
        patience=None,
        random_state=0,
        num_threads=1,
        device="cpu",
    )
    model.fit(images, labels, progress=lambda epoch, metrics: epochs_seen.append(epoch))
    return model, epochs_seen


def test_cnn_far_above_chance_and_not_below_the_handcrafted_baseline(shapes, trained):
    # given
    (train_images, train_labels), (test_images, test_labels) = shapes
    model, epochs_seen = trained
    baseline = HandcraftedClassifier().fit(train_images, train_labels)

    # when
    cnn_metrics = classification_metrics(test_labels, model.predict(test_images))
    baseline_accuracy = float((baseline.predict(test_images) == test_labels).mean())

    # then (measured: CNN 1.0, hand-crafted 0.95, chance 0.25)
    assert cnn_metrics["accuracy"] >= 0.8 > 3 * CHANCE
    assert baseline_accuracy >= 0.8
    assert cnn_metrics["accuracy"] >= baseline_accuracy
    assert cnn_metrics["macro_f1"] >= 0.8
    assert epochs_seen == list(range(1, 31))
    assert len(model.history_) == 30
    assert set(model.history_[0]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert model.history_[model.best_epoch_ - 1]["val_accuracy"] == max(
        row["val_accuracy"] for row in model.history_
    )
    assert list(model.classes_) == sorted(SHAPES)


def test_predict_proba_and_embed_shapes(shapes, trained):
    _, (test_images, _) = shapes
    model, _ = trained
    probabilities = model.predict_proba(test_images[:5])
    embeddings = model.embed(test_images[:5])
    assert probabilities.shape == (5, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), np.ones(5), rtol=1e-5)
    assert embeddings.shape == (5, 64)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), np.ones(5), rtol=1e-5)


def test_one_pass_gives_the_same_embeddings_and_probabilities(shapes, trained):
    _, (test_images, _) = shapes
    model, _ = trained

    embeddings, probabilities = model.embed_and_predict_proba(test_images[:5])

    np.testing.assert_allclose(embeddings, model.embed(test_images[:5]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        probabilities, model.predict_proba(test_images[:5]), rtol=1e-5, atol=1e-6
    )


def test_save_load_round_trip_gives_identical_predictions(shapes, trained, tmp_path):
    _, (test_images, _) = shapes
    model, _ = trained
    model.save(tmp_path / "cnn")
    loaded = CnnClassifier.load(tmp_path / "cnn")
    assert sorted(p.name for p in (tmp_path / "cnn").iterdir()) == ["model.pt", "params.json"]
    np.testing.assert_array_equal(
        loaded.predict_proba(test_images), model.predict_proba(test_images)
    )
    np.testing.assert_array_equal(loaded.predict(test_images), model.predict(test_images))
    assert loaded.get_params() == model.get_params()
    assert loaded.history_ == model.history_


def test_search_by_photo_returns_the_planted_match_first(shapes, trained, tmp_path):
    # given a catalogue of the test images indexed by id 1000..1199
    _, (catalogue, _) = shapes
    model, _ = trained
    ids = np.arange(1000, 1000 + len(catalogue))
    index = EmbeddingIndex().add(ids, model.embed(catalogue))

    # when querying with a noisy re-shot of item 1017
    rng = np.random.default_rng(5)
    photo = (catalogue[17].astype(np.int16) + rng.integers(-6, 7, catalogue[17].shape)).clip(0, 255)
    found, scores = index.query(model.embed(photo[None].astype(np.uint8))[0], k=5)

    # then
    assert found[0] == 1017
    assert scores[0] > 0.95
    assert list(scores) == sorted(scores, reverse=True)
    index.save(tmp_path / "index.npz")
    reloaded = EmbeddingIndex.load(tmp_path / "index.npz")
    assert reloaded.query(model.embed(catalogue[:1])[0], k=1)[0][0] == 1000
    assert recall_at_k(index, model.embed(catalogue[:20]), ids[:20], k=1) == 1.0


def test_embedding_index_exact_scores(tmp_path):
    index = EmbeddingIndex().add(["a", "b", "c"], np.array([[1.0, 0], [0, 2.0], [1.0, 1.0]]))
    found, scores = index.query(np.array([3.0, 0.0]), k=2)
    assert list(found) == ["a", "c"]
    np.testing.assert_allclose(scores, [1.0, np.sqrt(0.5)], rtol=1e-6)
    path = index.save(tmp_path / "catalogue.npz")
    reloaded = EmbeddingIndex.load(path)
    assert list(reloaded.query(np.array([0.0, 1.0]), k=1)[0]) == ["b"]
    relevant = ["a", "b"]
    assert recall_at_k(index, np.array([[1.0, 0.1], [1.0, 1.05]]), relevant, k=1) == 0.5


def test_same_seed_same_weights_after_one_epoch(shapes):
    (images, labels), _ = shapes

    def weights(seed):
        model = CnnClassifier(
            epochs=1,
            batch_size=32,
            image_size=32,
            width=8,
            random_state=seed,
            num_threads=1,
            device="cpu",
        ).fit(images[:96], labels[:96])
        return model.model_.state_dict()

    first, again, other = weights(7), weights(7), weights(8)
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_fit_restores_global_torch_state(shapes):
    (images, labels), _ = shapes
    CnnClassifier(epochs=1, image_size=32, width=8, num_threads=2, device="cpu").fit(
        images[:40], labels[:40]
    )
    assert torch.get_num_threads() == 1


def test_time_cap_stops_after_the_first_epoch_past_it(shapes):
    (images, labels), _ = shapes
    epochs_seen = []
    model = CnnClassifier(
        epochs=5, image_size=32, width=8, num_threads=1, device="cpu", max_seconds=0.0
    ).fit(images[:40], labels[:40], progress=lambda epoch, metrics: epochs_seen.append(epoch))
    assert epochs_seen == [1]
    assert model.best_epoch_ == 1
    assert model.get_params()["max_seconds"] == 0.0
    assert not torch.are_deterministic_algorithms_enabled()


def test_cnn_accepts_greyscale_28px_and_rgb_96px():
    grey = CompactResNet(10, in_channels=1, width=8)
    rgb = CompactResNet(3, in_channels=3, width=8)
    grey.eval()
    rgb.eval()
    assert grey(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert rgb(torch.zeros(2, 3, 96, 96)).shape == (2, 3)
    assert rgb.embed(torch.rand(2, 3, 64, 64)).norm(dim=1).allclose(torch.ones(2))


def test_folder_dataset_reads_lazily_and_trains(tmp_path):
    # given root/<class>/ with the three allowed formats and one stray file
    rng = np.random.default_rng(0)
    from tests.vision.synthetic import shape_image

    for shape in ("circle", "square"):
        (tmp_path / shape).mkdir()
        for number in range(8):
            suffix = ("png", "jpg", "webp")[number % 3]
            fmt = {"jpg": "JPEG"}.get(suffix, suffix.upper())
            shape_image(shape, rng).save(tmp_path / shape / f"{number}.{suffix}", format=fmt)
    (tmp_path / "circle" / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").mkdir()

    # when
    paths, labels, class_names = read_image_folder(tmp_path)
    dataset = FolderDataset.from_root(tmp_path)

    # then
    assert class_names == ["circle", "square"]
    assert len(paths) == 16
    assert labels.tolist() == [0] * 8 + [1] * 8
    image, label = dataset[9]
    assert (image.mode, image.size, label) == ("RGB", (32, 32), 1)

    model = CnnClassifier(
        epochs=2,
        batch_size=8,
        image_size=32,
        width=8,
        num_threads=1,
        device="cpu",
        validation_fraction=0.25,
    ).fit(dataset)
    assert len(model.history_) == 2
    assert model.predict(paths).shape == (16,)
    assert set(model.predict([Image.open(p) for p in paths[:2]])) <= {0, 1}


def test_handcrafted_features_and_embedding(shapes):
    (images, labels), _ = shapes
    vector = extract_features(images[0])
    assert vector.ndim == 1
    assert vector.dtype == np.float32
    baseline = HandcraftedClassifier().fit(images[:80], labels[:80])
    embeddings = baseline.embed(images[:3])
    assert embeddings.shape == (3, vector.shape[0])
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), np.ones(3), rtol=1e-5)


def test_classification_metrics_exact_values():
    result = classification_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert result["accuracy"] == 0.75
    assert result["confusion_matrix"] == [[1, 1], [0, 2]]
    assert result["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert result["per_class"]["b"]["precision"] == 2 / 3
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_explicit_validation_early_stopping_restores_the_best_epoch(shapes):
    # given an explicit validation set and patience 1
    (images, labels), (val_images, val_labels) = shapes
    model = CnnClassifier(
        epochs=8,
        batch_size=16,
        lr=5e-3,
        image_size=32,
        width=8,
        patience=1,
        num_threads=1,
        device="cpu",
    )

    # when
    model.fit(images[:96], labels[:96], validation=(val_images[:60], val_labels[:60]))

    # then it stopped one stale epoch after the best (or ran out of epochs) ...
    assert len(model.history_) in (model.best_epoch_ + 1, 8)
    # ... and the kept weights are the best epoch's: they reproduce its validation accuracy
    accuracy = float((model.predict(val_images[:60]) == val_labels[:60]).mean())
    assert accuracy == model.history_[model.best_epoch_ - 1]["val_accuracy"]


def test_unfitted_and_bad_inputs_raise(shapes):
    (images, labels), _ = shapes
    with pytest.raises(RuntimeError):
        CnnClassifier().predict(images[:2])
    with pytest.raises(ValueError, match="two classes"):
        CnnClassifier(num_threads=1).fit(images[:4], ["a"] * 4)
