"""Fixtures of the vision app's Django tests: a tiny shop of shape photos and a tiny fast CNN."""

import io

import numpy as np
import pytest
import torch
from django.core.files.base import ContentFile
from PIL import Image

from shopops.registry import services as registry
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory
from tests.vision.synthetic import shape_image

#: Three epochs of an 8-wide network on 16 px squares: well under a second per training.
TINY_PARAMS = {
    "epochs": 3,
    "batch_size": 8,
    "image_size": 16,
    "width": 8,
    "patience": None,
    "validation_fraction": 0.25,
    "device": "cpu",
    "num_threads": 1,
}
CATEGORY_SHAPES = {"Round": "circle", "Boxy": "square", "Pointy": "triangle"}
PRODUCTS_PER_CATEGORY = 4


def png_bytes(image: Image.Image, format: str = "PNG") -> bytes:  # noqa: A002 - Pillow's name
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def shape_png(shape: str, seed: int) -> bytes:
    return png_bytes(shape_image(shape, np.random.default_rng(seed), size=32))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _vision_settings(settings):
    settings.VISION_SUGGESTION_MIN_CONFIDENCE = 0.0
    settings.VISION_SEARCH_RATE = "1000/minute"
    settings.VISION_PROMOTION_TOLERANCE = 0.01


@pytest.fixture
def shop(db):
    """Three categories of four products, each with one photo of its category's shape."""
    categories, products = {}, []
    seed = 0
    for name, shape in CATEGORY_SHAPES.items():
        category = CategoryFactory(name=name, slug=name.lower())
        categories[name] = category
        for number in range(PRODUCTS_PER_CATEGORY):
            seed += 1
            product = ProductFactory(name=f"{name} thing {number}", category=category)
            ProductImageFactory(
                product=product, image=ContentFile(shape_png(shape, seed), name=f"p{seed}.png")
            )
            products.append(product)
    return {"categories": categories, "products": products}


def train_tiny(django_capture_on_commit_callbacks, **params):
    """Train a tiny CNN through the registry; promotion's re-index runs (on commit)."""
    with django_capture_on_commit_callbacks(execute=True):
        return registry.model_training_run_now(kind="cnn", params={**TINY_PARAMS, **params})


@pytest.fixture
def trained(shop, django_capture_on_commit_callbacks):
    version = train_tiny(django_capture_on_commit_callbacks)
    assert version.status == version.Status.ACTIVE, version.error
    return version
