"""Hand-crafted image features and a linear baseline classifier (numpy + sklearn, no Django).

The feature vector concatenates an HSV colour histogram, a HOG texture/edge descriptor and
log-scaled Hu moments of an Otsu foreground mask. It is the baseline the CNN must beat, and
(L2-normalised) it can be indexed for search by photo just like a CNN embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vision.engine.preprocess import to_rgb, to_square


def _as_rgb_array(image: Any, size: int) -> np.ndarray:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image.astype(np.uint8))
    image = to_square(to_rgb(image), size, mode="pad")
    return np.asarray(image, dtype=np.float32) / 255.0


def hsv_histogram(rgb: np.ndarray, bins: tuple[int, int, int] = (8, 3, 3)) -> np.ndarray:
    """Joint HSV histogram of an RGB float image in [0, 1], normalised to sum 1."""
    hsv = np.asarray(Image.fromarray((rgb * 255).astype(np.uint8)).convert("HSV"), np.float32)
    hist, _ = np.histogramdd(hsv.reshape(-1, 3) / 256.0, bins=bins, range=((0, 1), (0, 1), (0, 1)))
    hist = hist.ravel().astype(np.float32)
    return hist / max(hist.sum(), 1.0)


def hog(grey: np.ndarray, cell: int = 8, bins: int = 9) -> np.ndarray:
    """Histogram of oriented gradients: unsigned orientations, 2x2-cell L2-Hys blocks."""
    gy, gx = np.gradient(grey)
    magnitude = np.hypot(gx, gy)
    orientation = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    cells_y, cells_x = grey.shape[0] // cell, grey.shape[1] // cell
    bin_index = np.minimum((orientation / (180.0 / bins)).astype(int), bins - 1)
    histograms = np.zeros((cells_y, cells_x, bins), dtype=np.float32)
    mag = magnitude[: cells_y * cell, : cells_x * cell]
    idx = bin_index[: cells_y * cell, : cells_x * cell]
    cell_y = np.arange(cells_y * cell) // cell
    cell_x = np.arange(cells_x * cell) // cell
    np.add.at(
        histograms,
        (cell_y[:, None].repeat(cells_x * cell, 1), cell_x[None, :].repeat(cells_y * cell, 0), idx),
        mag,
    )
    blocks = []
    for y in range(cells_y - 1):
        for x in range(cells_x - 1):
            block = histograms[y : y + 2, x : x + 2].ravel()
            block = block / np.sqrt((block**2).sum() + 1e-6)
            block = np.minimum(block, 0.2)
            blocks.append(block / np.sqrt((block**2).sum() + 1e-6))
    return np.concatenate(blocks).astype(np.float32)


def otsu_mask(grey: np.ndarray) -> np.ndarray:
    """Foreground mask: Otsu threshold, foreground being the side rarer on the border."""
    values = (grey * 255).astype(np.uint8)
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    cumulative = np.cumsum(hist)
    cumulative_mean = np.cumsum(hist * np.arange(256))
    weight_b = cumulative
    weight_f = total - cumulative
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_b = cumulative_mean / weight_b
        mean_f = (cumulative_mean[-1] - cumulative_mean) / weight_f
        between = weight_b * weight_f * (mean_b - mean_f) ** 2
    threshold = int(np.nanargmax(np.nan_to_num(between, nan=-1.0)))
    bright = values > threshold
    border = np.concatenate([bright[0], bright[-1], bright[:, 0], bright[:, -1]])
    return ~bright if border.mean() > 0.5 else bright


def hu_moments(mask: np.ndarray) -> np.ndarray:
    """The 7 Hu invariants of a binary mask, sign-preserving log scaled."""
    m = mask.astype(np.float64)
    total = m.sum()
    if total == 0:
        return np.zeros(7, dtype=np.float32)
    ys, xs = np.mgrid[: m.shape[0], : m.shape[1]]
    cy, cx = (ys * m).sum() / total, (xs * m).sum() / total
    y, x = ys - cy, xs - cx

    def eta(p: int, q: int) -> float:
        return float((x**p * y**q * m).sum() / total ** (1 + (p + q) / 2))

    n20, n02, n11 = eta(2, 0), eta(0, 2), eta(1, 1)
    n30, n03, n21, n12 = eta(3, 0), eta(0, 3), eta(2, 1), eta(1, 2)
    hu = np.array(
        [
            n20 + n02,
            (n20 - n02) ** 2 + 4 * n11**2,
            (n30 - 3 * n12) ** 2 + (3 * n21 - n03) ** 2,
            (n30 + n12) ** 2 + (n21 + n03) ** 2,
            (n30 - 3 * n12) * (n30 + n12) * ((n30 + n12) ** 2 - 3 * (n21 + n03) ** 2)
            + (3 * n21 - n03) * (n21 + n03) * (3 * (n30 + n12) ** 2 - (n21 + n03) ** 2),
            (n20 - n02) * ((n30 + n12) ** 2 - (n21 + n03) ** 2)
            + 4 * n11 * (n30 + n12) * (n21 + n03),
            (3 * n21 - n03) * (n30 + n12) * ((n30 + n12) ** 2 - 3 * (n21 + n03) ** 2)
            - (n30 - 3 * n12) * (n21 + n03) * (3 * (n30 + n12) ** 2 - (n21 + n03) ** 2),
        ]
    )
    return (-np.sign(hu) * np.log10(np.abs(hu) + 1e-30)).clip(-30, 30).astype(np.float32) / 30


def extract_features(image: Any, *, size: int = 32) -> np.ndarray:
    """One image (PIL, uint8 array) -> 1-D float32 feature vector (colour, HOG, shape)."""
    rgb = _as_rgb_array(image, size)
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    mask = otsu_mask(grey)
    return np.concatenate([hsv_histogram(rgb), hog(grey), hu_moments(mask), [mask.mean()]]).astype(
        np.float32
    )


def extract_features_batch(images: Sequence[Any] | np.ndarray, *, size: int = 32) -> np.ndarray:
    """Stack ``extract_features`` over images: shape (N, n_features)."""
    return np.stack([extract_features(image, size=size) for image in images])


class HandcraftedClassifier:
    """StandardScaler + multinomial LogisticRegression on ``extract_features``.

    Parameters
    ----------
    C : inverse regularisation strength.
    image_size : side the images are resized (padded) to before feature extraction.
    max_iter : solver iterations.
    random_state : solver seed.
    """

    def __init__(
        self, C: float = 1.0, image_size: int = 32, max_iter: int = 1000, random_state: int = 0
    ) -> None:
        self.C = C
        self.image_size = image_size
        self.max_iter = max_iter
        self.random_state = random_state

    def transform(self, images: Sequence[Any] | np.ndarray) -> np.ndarray:
        return extract_features_batch(images, size=self.image_size)

    def fit(
        self, images: Sequence[Any] | np.ndarray, labels: Sequence[Any] | np.ndarray
    ) -> HandcraftedClassifier:
        features = self.transform(images)
        self.pipeline_ = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state),
        )
        self.pipeline_.fit(features, np.asarray(labels))
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, images: Sequence[Any] | np.ndarray) -> np.ndarray:
        return self.pipeline_.predict_proba(self.transform(images))

    def predict(self, images: Sequence[Any] | np.ndarray) -> np.ndarray:
        return self.pipeline_.predict(self.transform(images))

    def embed(self, images: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Standardised, L2-normalised features: usable in ``EmbeddingIndex`` for search."""
        scaled = self.pipeline_[0].transform(self.transform(images))
        return scaled / np.maximum(np.linalg.norm(scaled, axis=1, keepdims=True), 1e-12)
