"""The CNN's CUDA path: training, inference and moving a model between GPU and CPU.

Skipped where CUDA is not available (CI and the 2-core machine). The module needs no database
or Django, so on a GPU machine it also runs without the project's conftest:

    PYTHONPATH=. python3 -m pytest --noconftest -o addopts="" tests/vision/test_training_cuda.py
"""

import numpy as np
import pytest
import torch

from tests.vision.synthetic import SHAPES, shape_dataset, shape_image
from vision.engine.features import HandcraftedClassifier
from vision.engine.training import CnnClassifier

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")

CHANCE = 1 / len(SHAPES)
# cuDNN convolutions run in TF32 on Ampere and newer GPUs (torch's default): a 10-bit
# mantissa, so GPU and CPU probabilities differ in the fourth decimal (measured on an H200:
# at most 4.8e-4), not in bits.
CROSS_DEVICE_ATOL = 2e-3


def _assert_same_answers(probabilities: np.ndarray, reference: np.ndarray) -> None:
    """Probabilities agree within the tolerance, and so does every pick it cannot flip."""
    np.testing.assert_allclose(probabilities, reference, atol=CROSS_DEVICE_ATOL)
    top_two = np.sort(reference, axis=1)[:, -2:]
    clear = top_two[:, 1] - top_two[:, 0] > 2 * CROSS_DEVICE_ATOL
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(probabilities.argmax(1)[clear], reference.argmax(1)[clear])


def _model(**overrides) -> CnnClassifier:
    params = {
        "epochs": 30,
        "batch_size": 16,
        "lr": 5e-3,
        "image_size": 32,
        "width": 16,
        "patience": None,
        "random_state": 0,
        "num_threads": 1,
        "device": "cuda",
    }
    params.update(overrides)
    return CnnClassifier(**params)


@pytest.fixture(scope="module")
def shapes():
    return shape_dataset(200, seed=0), shape_dataset(200, seed=1)


@pytest.fixture(scope="module")
def trained_on_cuda(shapes):
    (images, labels), _ = shapes
    return _model().fit(images, labels)


def test_training_on_cuda_keeps_the_model_there_and_beats_the_baseline(shapes, trained_on_cuda):
    # given
    (train_images, train_labels), (test_images, test_labels) = shapes
    baseline = HandcraftedClassifier().fit(train_images, train_labels)

    # when
    accuracy = float((trained_on_cuda.predict(test_images) == test_labels).mean())
    baseline_accuracy = float((baseline.predict(test_images) == test_labels).mean())

    # then (the CPU run of the same set-up measures CNN 1.0, hand-crafted 0.95)
    assert all(p.device.type == "cuda" for p in trained_on_cuda.model_.parameters())
    assert accuracy >= 0.8 > 3 * CHANCE
    assert accuracy >= baseline_accuracy
    assert len(trained_on_cuda.history_) == 30


def test_auto_device_picks_cuda(shapes):
    (images, labels), _ = shapes
    model = _model(epochs=1, width=8, device="auto").fit(images[:64], labels[:64])
    assert next(model.model_.parameters()).device.type == "cuda"


def test_a_gpu_model_loads_on_cpu_with_the_same_predictions(shapes, trained_on_cuda, tmp_path):
    # given a model trained on the GPU, saved
    _, (test_images, _) = shapes
    trained_on_cuda.save(tmp_path / "cnn")

    # when the web process (no GPU) loads it
    on_cpu = CnnClassifier.load(tmp_path / "cnn", device="cpu")

    # then its weights are on the CPU and its answers are the GPU's
    assert all(p.device.type == "cpu" for p in on_cpu.model_.parameters())
    _assert_same_answers(
        on_cpu.predict_proba(test_images), trained_on_cuda.predict_proba(test_images)
    )
    np.testing.assert_allclose(
        on_cpu.embed(test_images), trained_on_cuda.embed(test_images), atol=CROSS_DEVICE_ATOL
    )


def test_a_cpu_model_serves_on_cuda_with_the_same_predictions(shapes, tmp_path):
    (images, labels), (test_images, _) = shapes
    on_cpu = _model(epochs=3, width=8, device="cpu").fit(images, labels)
    on_cpu.save(tmp_path / "cnn")

    on_gpu = CnnClassifier.load(tmp_path / "cnn", device="cuda")

    assert next(on_gpu.model_.parameters()).device.type == "cuda"
    _assert_same_answers(on_gpu.predict_proba(test_images), on_cpu.predict_proba(test_images))


def test_photos_train_and_predict_through_the_pinned_memory_loader(tmp_path):
    # given product photos as files and PIL images (the lazy, augmented Pillow path)
    rng = np.random.default_rng(3)
    paths, labels = [], []
    for number in range(96):
        shape = SHAPES[number % 2]
        path = tmp_path / f"{number}.png"
        shape_image(shape, rng, size=40).save(path)
        paths.append(path)
        labels.append(shape)

    # when
    model = _model(epochs=20, width=16, validation_fraction=0.25).fit(paths, labels)
    embeddings, probabilities = model.embed_and_predict_proba(paths)

    # then
    assert len(model.history_) == 20
    assert probabilities.shape == (96, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), np.ones(96), rtol=1e-5)
    np.testing.assert_allclose(probabilities, model.predict_proba(paths), atol=1e-6)
    np.testing.assert_allclose(embeddings, model.embed(paths), atol=1e-6)
    # (the same set-up on CPU: 1.0 with seeds 0 and 1; chance is 0.5)
    assert float((model.predict(paths) == np.array(labels)).mean()) >= 0.9
