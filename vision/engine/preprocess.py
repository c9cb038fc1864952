"""Safe image decoding and tensor preprocessing (Pillow + torch, no Django).

Uploaded bytes are untrusted: the format is checked after opening (never trusted from a file
name or content type), size and pixel limits are applied before full decoding, Pillow's
decompression-bomb check is always an error, and truncated files are rejected.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageRejected(ValueError):
    """An upload that is not a safe, supported image.

    ``reason`` is a short machine-readable code: ``too_large``, ``too_many_pixels``,
    ``decompression_bomb``, ``not_an_image``, ``unsupported_format``, ``truncated``, ``empty``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    allowed_formats: frozenset[str] = ALLOWED_FORMATS,
) -> Image.Image:
    """Decode untrusted bytes into an upright RGB ``PIL.Image``.

    Raises
    ------
    ImageRejected
        With ``reason`` naming the check that failed.
    """
    if not data:
        raise ImageRejected("empty", "no bytes")
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes > {max_bytes}")
    # Pillow's own bomb limit guards the header parse; our pixel limit is usually tighter.
    # Both the warning (1x..2x limit) and the error (>2x) become rejections.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected("decompression_bomb", str(exc)) from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected("not_an_image", "cannot identify image") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected("not_an_image", str(exc)) from exc
        if image.format not in allowed_formats:
            raise ImageRejected("unsupported_format", str(image.format))
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageRejected("not_an_image", "zero-sized image")
        if width * height > max_pixels:
            raise ImageRejected("too_many_pixels", f"{width}x{height} > {max_pixels} pixels")
        try:
            # load() decodes the whole stream: a truncated file fails here, not later.
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected("decompression_bomb", str(exc)) from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected("truncated", str(exc)) from exc
    image = ImageOps.exif_transpose(image)
    return to_rgb(image)


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any mode to RGB, compositing transparency onto ``background``."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() or 1.0
        image = Image.fromarray((array * (255.0 / peak)).astype(np.uint8), mode="L")
    return image.convert("RGB")


def to_square(image: Image.Image, size: int, *, mode: str = "crop", fill=(255, 255, 255)):
    """Resize to ``size`` x ``size``.

    ``mode="crop"`` scales the short side to ``size`` and centre-crops; ``mode="pad"`` scales
    the long side to ``size`` and pads with ``fill`` (keeps the whole product in view).
    """
    if mode == "crop":
        return ImageOps.fit(image, (size, size), method=Image.Resampling.BILINEAR)
    if mode == "pad":
        return ImageOps.pad(image, (size, size), method=Image.Resampling.BILINEAR, color=fill)
    raise ValueError(f"unknown mode {mode!r}")


def to_tensor(
    image: Image.Image,
    *,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """PIL image -> normalised float32 tensor of shape (C, H, W)."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[:, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    channels = tensor.shape[0]
    mean_t = torch.tensor(list(mean)[:channels], dtype=torch.float32).view(-1, 1, 1)
    std_t = torch.tensor(list(std)[:channels], dtype=torch.float32).view(-1, 1, 1)
    return (tensor - mean_t) / std_t


def preprocess_bytes(
    data: bytes,
    *,
    size: int = 64,
    mode: str = "pad",
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> torch.Tensor:
    """Untrusted bytes -> normalised (3, size, size) tensor for inference."""
    image = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    return to_tensor(to_square(image, size, mode=mode), mean=mean, std=std)


@dataclass
class Augmenter:
    """Training augmentation driven by a seeded ``torch.Generator``.

    Random resized crop (scale and aspect-ratio ranges as in the usual ImageNet recipe, but
    milder), horizontal flip and colour jitter (brightness, contrast, saturation).
    """

    size: int
    scale: tuple[float, float] = (0.6, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_probability: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2

    def _uniform(self, generator: torch.Generator, low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand(1, generator=generator))

    def random_resized_crop(self, image: Image.Image, generator: torch.Generator) -> Image.Image:
        width, height = image.size
        area = width * height
        for _ in range(10):
            target = area * self._uniform(generator, *self.scale)
            log_ratio = self._uniform(generator, math.log(self.ratio[0]), math.log(self.ratio[1]))
            aspect = math.exp(log_ratio)
            crop_w = round(math.sqrt(target * aspect))
            crop_h = round(math.sqrt(target / aspect))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                left = int(torch.randint(0, width - crop_w + 1, (1,), generator=generator))
                top = int(torch.randint(0, height - crop_h + 1, (1,), generator=generator))
                box = (left, top, left + crop_w, top + crop_h)
                return image.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box)
        return to_square(image, self.size, mode="crop")

    def __call__(self, image: Image.Image, generator: torch.Generator) -> Image.Image:
        image = self.random_resized_crop(image, generator)
        if float(torch.rand(1, generator=generator)) < self.flip_probability:
            image = ImageOps.mirror(image)
        for enhancer, amount in (
            (ImageEnhance.Brightness, self.brightness),
            (ImageEnhance.Contrast, self.contrast),
            (ImageEnhance.Color, self.saturation),
        ):
            if amount > 0:
                factor = self._uniform(generator, 1 - amount, 1 + amount)
                image = enhancer(image).enhance(factor)
        return image


def augment_batch(
    batch: torch.Tensor, generator: torch.Generator, *, pad: int = 2, flip: bool = True
) -> torch.Tensor:
    """Cheap tensor augmentation for in-memory batches (N, C, H, W): random shift + flip.

    Used when training from arrays (e.g. Fashion-MNIST) where a Pillow round-trip per image
    would dominate the epoch time on two cores.
    """
    count, _, height, width = batch.shape
    padded = torch.nn.functional.pad(batch, (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (count, 2), generator=generator)
    out = torch.empty_like(batch)
    # Loop over the (2 * pad + 1) ** 2 distinct shifts, not over images.
    codes = offsets[:, 0] * (2 * pad + 1) + offsets[:, 1]
    for code in torch.unique(codes).tolist():
        dy, dx = divmod(int(code), 2 * pad + 1)
        mask = codes == code
        out[mask] = padded[mask, :, dy : dy + height, dx : dx + width]
    if flip:
        flips = torch.rand(count, generator=generator) < 0.5
        out[flips] = out[flips].flip(-1)
    return out
