"""``CnnClassifier``: a scikit-learn style estimator around ``CompactResNet`` (no Django).

Inputs accepted by ``fit``/``predict``:

- a uint8 array ``(N, H, W)`` (greyscale) or ``(N, H, W, 3)`` (RGB), held in memory and
  augmented with cheap tensor shifts/flips;
- a sequence of ``PIL.Image`` objects or file paths (decoded with the safe decoder), or a
  ``torch.utils.data.Dataset`` yielding ``(image, label)``: read lazily and augmented with
  Pillow (random resized crop, flip, colour jitter).
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from sklearn.model_selection import train_test_split
from torch.nn import functional as F  # noqa: N812
from torch.utils.data import DataLoader, Dataset

from vision.engine.cnn import CompactResNet
from vision.engine.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Augmenter,
    augment_batch,
    decode_image,
    to_rgb,
    to_square,
    to_tensor,
)

WEIGHTS_FILE = "model.pt"
PARAMS_FILE = "params.json"

ProgressCallback = Callable[[int, dict[str, float]], None]

# channels_last lets oneDNN pick its blocked convolution kernels on CPU: an epoch of
# Fashion-MNIST at width 16 took 19 s instead of 52 s on 2 idle cores (and it is the layout
# cuDNN prefers too). Below width 16 it is not used: with width 8 at 64 px, oneDNN's
# channels_last convolution backward crashed the process (segfault, torch 2.x on this machine).
# The model and every input share one format in fit, inference and after load.
CHANNELS_LAST_MIN_WIDTH = 16


def _memory_format(width: int) -> torch.memory_format:
    if width >= CHANNELS_LAST_MIN_WIDTH:
        return torch.channels_last
    return torch.contiguous_format


def _to_device(
    batch: torch.Tensor, device: torch.device, memory_format: torch.memory_format
) -> torch.Tensor:
    """Move a (N, C, H, W) batch to ``device`` in the network's memory format."""
    if device.type == "cuda":
        # Page-locked memory makes the host-to-GPU copy asynchronous; useless on CPU.
        return batch.pin_memory().to(device, memory_format=memory_format, non_blocking=True)
    return batch.to(device, memory_format=memory_format)


def _load_pil(item: Any) -> Image.Image:
    if isinstance(item, Image.Image):
        return to_rgb(item)
    if isinstance(item, str | os.PathLike):
        return decode_image(Path(item).read_bytes())
    if isinstance(item, np.ndarray):
        return to_rgb(Image.fromarray(item))
    raise TypeError(f"unsupported image item {type(item).__name__}")


class _ImageDataset(Dataset):
    """Lazy images -> normalised tensors; a seeded Pillow augmentation when training."""

    def __init__(self, items, indices, size, mean, std, resize_mode, augmenter=None, seed=0):
        self.items = items
        self.indices = list(indices)
        self.size = size
        self.mean = mean
        self.std = std
        self.resize_mode = resize_mode
        self.augmenter = augmenter
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> torch.Tensor:
        index = int(self.indices[position])
        item = self.items[index]
        if isinstance(item, tuple):  # a Dataset item: (image, label)
            item = item[0]
        image = _load_pil(item)
        if self.augmenter is not None:
            # One generator per (epoch, image): reproducible whatever the loader order.
            generator = torch.Generator().manual_seed(
                self.seed * 1_000_003 + self.epoch * 100_003 + index
            )
            image = self.augmenter(image, generator)
        else:
            image = to_square(image, self.size, mode=self.resize_mode)
        return to_tensor(image, mean=self.mean, std=self.std)


class CnnClassifier:
    """Image classifier: compact ResNet trained with AdamW + one-cycle LR + early stopping.

    Parameters
    ----------
    epochs : maximum passes over the training set.
    batch_size : mini-batch size.
    lr : peak learning rate of the one-cycle schedule (AdamW).
    weight_decay : AdamW weight decay.
    image_size : square side fed to the network (arrays are resized when it differs).
    width, blocks_per_stage, dropout : network size (see ``CompactResNet``).
    augment : train-time augmentation on/off.
    validation_fraction : held-out share when ``fit`` gets no ``validation``; 0 disables it.
    patience : epochs without a better validation accuracy before stopping (None: never).
    schedule : "onecycle" or "cosine".
    resize_mode : "pad" or "crop" for image inputs at inference.
    random_state : seed for initialisation, split, shuffling and augmentation.
    device : "auto" (CUDA when available), "cpu" or "cuda".
    num_threads : torch CPU threads during fit/predict (default min(2, cpu count)).
    max_seconds : stop after the first epoch that ends past this many seconds of training
        (None: no time cap). The learning-rate schedule is planned for ``epochs``, so a cap
        that cuts in early leaves a higher rate than a full run ends with; pick ``epochs``
        to fit the budget and keep the cap as a guard.
    """

    def __init__(
        self,
        epochs: int = 10,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 5e-4,
        image_size: int = 64,
        width: int = 32,
        blocks_per_stage: int = 1,
        dropout: float = 0.2,
        augment: bool = True,
        validation_fraction: float = 0.1,
        patience: int | None = 5,
        schedule: str = "onecycle",
        resize_mode: str = "pad",
        random_state: int = 0,
        device: str = "auto",
        num_threads: int | None = None,
        max_seconds: float | None = None,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.image_size = image_size
        self.width = width
        self.blocks_per_stage = blocks_per_stage
        self.dropout = dropout
        self.augment = augment
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.schedule = schedule
        self.resize_mode = resize_mode
        self.random_state = random_state
        self.device = device
        self.num_threads = num_threads
        self.max_seconds = max_seconds

    # -- parameters ---------------------------------------------------------------------------

    _PARAM_NAMES = (
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "image_size",
        "width",
        "blocks_per_stage",
        "dropout",
        "augment",
        "validation_fraction",
        "patience",
        "schedule",
        "resize_mode",
        "random_state",
        "device",
        "num_threads",
        "max_seconds",
    )

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAM_NAMES}

    def _torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _threads(self) -> int:
        return self.num_threads or min(2, os.cpu_count() or 1)

    # -- input handling ----------------------------------------------------------------------

    @staticmethod
    def _is_array(images: Any) -> bool:
        return isinstance(images, np.ndarray) and images.ndim in (3, 4)

    def _array_to_tensor(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (N,H,W[,C]) -> normalised float (N,C,S,S) using the fitted mean/std."""
        array = np.asarray(images, dtype=np.float32) / 255.0
        array = array[:, None, :, :] if array.ndim == 3 else array.transpose(0, 3, 1, 2)
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if tensor.shape[-1] != self.image_size or tensor.shape[-2] != self.image_size:
            tensor = F.interpolate(tensor, size=(self.image_size, self.image_size), mode="bilinear")
        mean = torch.tensor(self.mean_, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self.std_, dtype=torch.float32).view(1, -1, 1, 1)
        return (tensor - mean) / std

    def _image_loader(self, images, indices, *, train: bool, generator_seed: int = 0):
        augmenter = Augmenter(self.image_size) if (train and self.augment) else None
        dataset = _ImageDataset(
            images,
            indices,
            self.image_size,
            self.mean_,
            self.std_,
            self.resize_mode,
            augmenter=augmenter,
            seed=self.random_state,
        )
        generator = torch.Generator().manual_seed(generator_seed)
        loader = DataLoader(dataset, batch_size=self.batch_size, shuffle=train, generator=generator)
        return dataset, loader

    # -- fit ---------------------------------------------------------------------------------

    def fit(
        self,
        images: Any,
        labels: Sequence[Any] | np.ndarray | None = None,
        *,
        validation: tuple[Any, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> CnnClassifier:
        """Train on ``images``/``labels`` (labels taken from the Dataset when None)."""
        if labels is None:
            if hasattr(images, "labels"):  # e.g. FolderDataset: no need to decode anything
                labels = images.labels
            elif isinstance(images, Dataset):
                labels = [images[i][1] for i in range(len(images))]  # type: ignore[arg-type]
            else:
                raise ValueError("labels are required unless images is a Dataset")
        labels = np.asarray(labels)
        if len(labels) != len(images):
            raise ValueError("images and labels differ in length")
        self.classes_, y = np.unique(labels, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("need at least two classes")

        previous_threads = torch.get_num_threads()
        previous_deterministic = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(self._threads())
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            self._fit(images, y, validation, progress)
        finally:
            torch.set_num_threads(previous_threads)
            torch.use_deterministic_algorithms(previous_deterministic)
        return self

    def _split(self, count: int, y: np.ndarray):
        indices = np.arange(count)
        if not self.validation_fraction:
            return indices, None
        counts = np.bincount(y)
        stratify = y if counts.min() >= 2 else None
        train_idx, val_idx = train_test_split(
            indices,
            test_size=self.validation_fraction,
            random_state=self.random_state,
            stratify=stratify,
        )
        return np.sort(train_idx), np.sort(val_idx)

    def _fit(self, images, y, validation, progress) -> None:
        torch.manual_seed(self.random_state)
        device = self._torch_device()
        self.is_array_input_ = self._is_array(images)

        if validation is not None:
            train_idx, val_idx = np.arange(len(y)), None
            val_images = validation[0]
            val_lookup = {label: code for code, label in enumerate(self.classes_.tolist())}
            val_y = np.array([val_lookup[label] for label in np.asarray(validation[1]).tolist()])
        else:
            train_idx, val_idx = self._split(len(y), y)
            val_images, val_y = None, None

        if self.is_array_input_:
            array = np.asarray(images)
            self.in_channels_ = 1 if array.ndim == 3 else array.shape[3]
            sample = array[train_idx].astype(np.float32) / 255.0
            axes = (0, 1, 2)
            if array.ndim == 3:
                self.mean_ = [float(sample.mean())]
                self.std_ = [float(sample.std()) or 1.0]
            else:
                self.mean_ = [float(v) for v in sample.mean(axis=axes)]
                self.std_ = [float(v) or 1.0 for v in sample.std(axis=axes)]
            del sample
            data = self._array_to_tensor(array)
        else:
            self.in_channels_ = 3
            self.mean_, self.std_ = list(IMAGENET_MEAN), list(IMAGENET_STD)
            data = None

        self.model_ = CompactResNet(
            len(self.classes_),
            in_channels=self.in_channels_,
            width=self.width,
            blocks_per_stage=self.blocks_per_stage,
            dropout=self.dropout,
        ).to(device, memory_format=_memory_format(self.width))

        train_count = len(train_idx)
        steps_per_epoch = max(1, -(-train_count // self.batch_size))
        optimizer = torch.optim.AdamW(
            self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        total_steps = steps_per_epoch * self.epochs
        if self.schedule == "onecycle" and total_steps >= 4:
            # Warm-up needs at least two steps: OneCycleLR divides by the phase lengths.
            scheduler: torch.optim.lr_scheduler.LRScheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=self.lr,
                total_steps=total_steps,
                pct_start=max(0.25, 2 / total_steps),
            )
        elif self.schedule in ("cosine", "onecycle"):
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
        else:
            raise ValueError(f"unknown schedule {self.schedule!r}")

        generator = torch.Generator().manual_seed(self.random_state)
        y_tensor = torch.from_numpy(y.astype(np.int64))
        y_train = y_tensor[train_idx]
        if self.is_array_input_:
            x_train = data[train_idx]
        else:
            train_dataset, train_loader = self._image_loader(
                images, train_idx, train=True, generator_seed=self.random_state
            )

        self.history_: list[dict[str, float]] = []
        best_score, best_state, stale = (-1.0, 0.0), None, 0
        self.best_epoch_ = 0
        started = time.perf_counter()
        for epoch in range(1, self.epochs + 1):
            self.model_.train()
            total_loss, correct, seen = 0.0, 0, 0
            if self.is_array_input_:
                order = torch.randperm(train_count, generator=generator)
                iterator = self._array_batches(x_train, y_train, order, generator)
            else:
                train_dataset.epoch = epoch
                label_lookup = y_train
                iterator = (
                    (batch, label_lookup[positions])
                    for batch, positions in self._positioned(train_loader)
                )
            for batch, target in iterator:
                if len(target) < 2:
                    continue  # BatchNorm needs more than one sample in train mode
                batch = _to_device(batch, device, _memory_format(self.width))
                target = target.to(device)
                optimizer.zero_grad(set_to_none=True)
                logits = self.model_(batch)
                loss = F.cross_entropy(logits, target, label_smoothing=0.05)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total_loss += float(loss.detach()) * len(target)
                correct += int((logits.argmax(1) == target).sum())
                seen += len(target)
            metrics = {
                "epoch": float(epoch),
                "loss": total_loss / max(seen, 1),
                "accuracy": correct / max(seen, 1),
                "lr": float(optimizer.param_groups[0]["lr"]),
                "seconds": time.perf_counter() - started,
            }
            if val_idx is not None or val_images is not None:
                if val_idx is not None:
                    if self.is_array_input_:
                        probabilities = self._proba_tensor(data[val_idx], device)
                    else:
                        probabilities = self._proba_images(images, val_idx, device)
                    target_np = y[val_idx]
                else:
                    probabilities = self._apply(val_images, self._softmax)
                    target_np = val_y
                clipped = np.clip(probabilities[np.arange(len(target_np)), target_np], 1e-12, 1)
                metrics["val_loss"] = float(-np.log(clipped).mean())
                metrics["val_accuracy"] = float((probabilities.argmax(1) == target_np).mean())
                # Ties on accuracy (common on small validation sets) go to the lower loss.
                score = (metrics["val_accuracy"], -metrics["val_loss"])
            else:
                score = (metrics["accuracy"], -metrics["loss"])
            self.history_.append(metrics)
            if progress is not None:
                progress(epoch, metrics)
            if score > best_score:
                best_score, stale, self.best_epoch_ = score, 0, epoch
                best_state = copy.deepcopy(self.model_.state_dict())
            else:
                stale += 1
                if self.patience is not None and stale >= self.patience:
                    break
            if self.max_seconds is not None and time.perf_counter() - started >= self.max_seconds:
                break
        has_validation = val_idx is not None or val_images is not None
        if has_validation and best_state is not None:
            self.model_.load_state_dict(best_state)
        else:
            self.best_epoch_ = len(self.history_)
        self.fit_seconds_ = time.perf_counter() - started
        self.model_.eval()

    def _array_batches(self, x_train, y_train, order, generator):
        for start in range(0, len(order), self.batch_size):
            batch_idx = order[start : start + self.batch_size]
            batch = x_train[batch_idx]
            if self.augment:
                batch = augment_batch(batch, generator)
            yield batch, y_train[batch_idx]

    @staticmethod
    def _positioned(loader):
        """Yield (batch, positions within the dataset's index list) for a shuffled loader."""
        sampler_order = list(iter(loader.batch_sampler))
        dataset = loader.dataset
        for positions in sampler_order:
            batch = torch.stack([dataset[p] for p in positions])
            yield batch, torch.tensor(positions)

    # -- inference ---------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("CnnClassifier is not fitted")

    @torch.no_grad()
    def _run_tensor(self, data: torch.Tensor, device, fn) -> np.ndarray:
        self.model_.eval()
        outputs = []
        for start in range(0, len(data), 256):
            outputs.append(
                fn(_to_device(data[start : start + 256], device, _memory_format(self.width)))
                .float()
                .cpu()
            )
        return torch.cat(outputs).numpy()

    def _proba_tensor(self, data: torch.Tensor, device) -> np.ndarray:
        return self._run_tensor(data, device, self._softmax)

    @torch.no_grad()
    def _run_images(self, images, indices, device, fn) -> np.ndarray:
        self.model_.eval()
        _, loader = self._image_loader(images, indices, train=False)
        memory_format = _memory_format(self.width)
        outputs = [fn(_to_device(batch, device, memory_format)).float().cpu() for batch in loader]
        return torch.cat(outputs).numpy()

    def _proba_images(self, images, indices, device) -> np.ndarray:
        return self._run_images(images, indices, device, self._softmax)

    def _apply(self, images, fn) -> np.ndarray:
        device = self._torch_device()
        self.model_.to(device, memory_format=_memory_format(self.width))
        if self._is_array(images):
            return self._run_tensor(self._array_to_tensor(np.asarray(images)), device, fn)
        if isinstance(images, torch.Tensor):
            return self._run_tensor(images.float(), device, fn)
        return self._run_images(images, range(len(images)), device, fn)

    def _softmax(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.model_(x), dim=1)

    def _embed_and_softmax(self, x: torch.Tensor) -> torch.Tensor:
        # One pass through the convolutions for both outputs (dropout is off in eval mode).
        features = self.model_.features(x)
        probabilities = F.softmax(self.model_.head(features), dim=1)
        return torch.cat([F.normalize(features, dim=1), probabilities], dim=1)

    def _with_threads(self, fn):
        previous = torch.get_num_threads()
        torch.set_num_threads(self._threads())
        try:
            return fn()
        finally:
            torch.set_num_threads(previous)

    def predict_proba(self, images: Any) -> np.ndarray:
        """Class probabilities, shape (N, n_classes), columns in ``classes_`` order."""
        self._check_fitted()
        return self._with_threads(lambda: self._apply(images, self._softmax))

    def predict(self, images: Any) -> np.ndarray:
        """Predicted labels (values of ``classes_``)."""
        self._check_fitted()
        return self.classes_[self.predict_proba(images).argmax(axis=1)]

    def embed(self, images: Any) -> np.ndarray:
        """L2-normalised penultimate features, shape (N, feature_dim)."""
        self._check_fitted()
        return self._with_threads(lambda: self._apply(images, self.model_.embed))

    def embed_and_predict_proba(self, images: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(embed(images), predict_proba(images))`` from one forward pass."""
        self._check_fitted()
        both = self._with_threads(lambda: self._apply(images, self._embed_and_softmax))
        split = both.shape[1] - len(self.classes_)
        return both[:, :split], both[:, split:]

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``model.pt`` (state_dict) and ``params.json`` into ``directory``."""
        self._check_fitted()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        state = {key: value.cpu() for key, value in self.model_.state_dict().items()}
        torch.save(state, path / WEIGHTS_FILE)
        document = {
            "params": self.get_params(),
            "classes": self.classes_.tolist(),
            "in_channels": self.in_channels_,
            "mean": self.mean_,
            "std": self.std_,
            "is_array_input": bool(self.is_array_input_),
            "best_epoch": self.best_epoch_,
            "history": self.history_,
        }
        (path / PARAMS_FILE).write_text(json.dumps(document, indent=2))
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike, *, device: str | None = None) -> CnnClassifier:
        path = Path(directory)
        document = json.loads((path / PARAMS_FILE).read_text())
        params = dict(document["params"])
        if device is not None:
            params["device"] = device
        estimator = cls(**params)
        estimator.classes_ = np.asarray(document["classes"])
        estimator.in_channels_ = int(document["in_channels"])
        estimator.mean_ = list(document["mean"])
        estimator.std_ = list(document["std"])
        estimator.is_array_input_ = bool(document["is_array_input"])
        estimator.best_epoch_ = int(document["best_epoch"])
        estimator.history_ = list(document["history"])
        estimator.model_ = CompactResNet(
            len(estimator.classes_),
            in_channels=estimator.in_channels_,
            width=estimator.width,
            blocks_per_stage=estimator.blocks_per_stage,
            dropout=estimator.dropout,
        )
        state = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        estimator.model_.load_state_dict(state)
        memory_format = _memory_format(estimator.width)
        estimator.model_.to(estimator._torch_device(), memory_format=memory_format).eval()
        return estimator
