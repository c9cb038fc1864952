"""Seeded synthetic shape images for the vision engine tests (no files, no downloads)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "cross")


def shape_image(shape: str, rng: np.random.Generator, size: int = 32) -> Image.Image:
    """One shape of random colour, size and position on a noisy light background."""
    background = tuple(int(v) for v in rng.integers(170, 256, 3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    colour = tuple(int(v) for v in rng.integers(0, 150, 3))
    radius = int(rng.integers(size // 5, size // 3 + 1))
    cx = int(rng.integers(radius, size - radius))
    cy = int(rng.integers(radius, size - radius))
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon(
            [(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=colour
        )
    else:
        thickness = max(2, radius // 3)
        draw.rectangle((cx - radius, cy - thickness, cx + radius, cy + thickness), fill=colour)
        draw.rectangle((cx - thickness, cy - radius, cx + thickness, cy + radius), fill=colour)
    array = np.asarray(image, dtype=np.int16) + rng.integers(-12, 13, (size, size, 3))
    return Image.fromarray(array.clip(0, 255).astype(np.uint8))


def shape_dataset(count: int, *, seed: int = 0, size: int = 32):
    """``(images uint8 (N, size, size, 3), labels (N,) of shape names)``, classes balanced."""
    rng = np.random.default_rng(seed)
    labels = np.array([SHAPES[i % len(SHAPES)] for i in range(count)])
    images = np.stack([np.asarray(shape_image(label, rng, size)) for label in labels])
    return images, labels
