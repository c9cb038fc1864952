"""Image folders on disk as labelled datasets, for the vision commands and folder trainings.

The engine's ``FolderDataset`` reads the flat ``root/<class>/*.jpg`` layout. Real collections
nest deeper: the Grocery Store data is ``train/Fruit/Apple/Granny-Smith/*.jpg`` beside
``train/Fruit/Banana/*.jpg``. Here every folder that holds images is a class named by its path
under the root, and ``label_depth`` cuts that path to its first N parts (Grocery's coarse
classes are depth 2: ``Fruit/Apple``). The flat layout is the depth-1 case and reads the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vision.engine.datasets import IMAGE_SUFFIXES
from vision.engine.preprocess import ImageRejected, decode_image, to_square


def image_folder_read(
    root: str | os.PathLike, *, label_depth: int | None = None
) -> tuple[list[Path], list[str]]:
    """``(paths, labels)`` of every image under ``root``, sorted by path; nothing is decoded.

    Raises ``FileNotFoundError`` when ``root`` is not a folder and ``ValueError`` when it holds
    no image inside a subfolder (an image directly in ``root`` has no class and is skipped).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    if label_depth is not None and label_depth < 1:
        raise ValueError("label_depth must be at least 1")
    paths: list[Path] = []
    labels: list[str] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if (
            not path.is_file()
            or path.suffix.lower() not in IMAGE_SUFFIXES
            or any(part.startswith(".") for part in relative.parts)
            or len(relative.parts) < 2
        ):
            continue
        folders = relative.parts[:-1]
        if label_depth is not None:
            folders = folders[:label_depth]
        paths.append(path)
        labels.append("/".join(folders))
    if not paths:
        raise ValueError(f"no images in class folders under {root}")
    return paths, labels


def images_to_array(
    items: list[bytes | Path], *, size: int
) -> tuple[np.ndarray, list[int], list[str]]:
    """Decode images safely and pad them to ``size`` squares: ``(uint8 (N, size, size, 3),
    indices of the items kept, reasons of those skipped)``."""
    arrays: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[str] = []
    for index, item in enumerate(items):
        try:
            data = item if isinstance(item, bytes) else Path(item).read_bytes()
            image = decode_image(data)
        except ImageRejected as error:
            skipped.append(f"{item if isinstance(item, Path) else index}: {error.reason}")
            continue
        except OSError as error:
            skipped.append(f"{item}: {error.strerror or error}")
            continue
        arrays.append(np.asarray(to_square(image, size, mode="pad"), dtype=np.uint8))
        kept.append(index)
    if not arrays:
        return np.empty((0, size, size, 3), dtype=np.uint8), kept, skipped
    return np.stack(arrays), kept, skipped
