"""Folder image datasets: ``root/<class name>/*.jpg|jpeg|png|webp`` (no Django)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vision.engine.preprocess import decode_image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})


@dataclass
class FolderDataset:
    """Lazy ``(PIL image, label index)`` items; images are decoded only when indexed.

    ``paths``, ``labels`` (int array) and ``class_names`` (sorted folder names) are ready at
    construction; it also works as a torch ``Dataset`` (``__len__``/``__getitem__``).
    """

    paths: list[Path]
    labels: np.ndarray
    class_names: list[str]

    @classmethod
    def from_root(cls, root: str | os.PathLike) -> FolderDataset:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(root)
        class_names = sorted(
            entry.name for entry in root.iterdir() if entry.is_dir() and entry.name[0] != "."
        )
        paths: list[Path] = []
        labels: list[int] = []
        for label, name in enumerate(class_names):
            for path in sorted((root / name).iterdir()):
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    paths.append(path)
                    labels.append(label)
        return cls(paths, np.asarray(labels, dtype=np.int64), class_names)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        return decode_image(self.paths[index].read_bytes()), int(self.labels[index])


def read_image_folder(root: str | os.PathLike) -> tuple[list[Path], np.ndarray, list[str]]:
    """``(paths, labels, class_names)`` for ``root/<class name>/*``; nothing is decoded."""
    dataset = FolderDataset.from_root(root)
    return dataset.paths, dataset.labels, dataset.class_names
