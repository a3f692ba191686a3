"""Image datasets (MNIST, CIFAR-10) with honest, labelled offline fallbacks.

`load_mnist` and `load_cifar10` return an `ImageDataset`: the images as one
uint8 tensor, their labels, and where they came from. When the real data
cannot be had, one line says so and a fallback is used. For MNIST it is
scikit-learn's real 8x8 handwritten digits, sharpened and drawn into 28x28 with
small random moves (`synthetic.draw_digits`): real handwriting, but from 1,797
digits, not 70,000. For CIFAR-10 it is synthetic 32x32 colour images of 10
shapes on varied backgrounds (`synthetic.make_shapes`): built so that the
lessons of CIFAR-10 carry over (a small CNN stays far from 100%, a horizontal
flip does not change the class), but drawn, not photographed.
`dataset.is_fallback` tells a chapter which one it got, so it never reports
fallback numbers as results on the real dataset.
"""

from __future__ import annotations

import functools
import math
import struct
from pathlib import Path

import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from .data import DataUnavailable, check_unpacked, data_root, download, say_fallback
from .loaders import DeviceLoader
from .synthetic import SHAPE_CLASSES, draw_digits, make_shapes

__all__ = ["ImageDataset", "load_cifar10", "load_mnist"]


class ImageDataset(Dataset):
    """Images kept as one uint8 tensor (N, C, H, W), normalised on the fly.

    `dataset[i]` returns `(image, label)`: the image as a float tensor with
    pixel values in [0, 1], passed through `transform` if one is given (e.g.
    random flips or grayscale for training data only, which need real pixel
    values), then normalised by the dataset's per-channel mean and std.

    Attributes:
        images: uint8 tensor (N, C, H, W). targets: int64 tensor (N,).
        classes: class names. mean, std: per-channel statistics in [0, 1].
        name: e.g. "MNIST". source: "real" or "fallback". description: one line on what this is.
    """

    def __init__(self, images, targets, classes, mean, std, name, source, description, transform=None) -> None:
        self.images, self.targets = images, targets.long()
        self.classes, self.mean, self.std = list(classes), tuple(mean), tuple(std)
        self.name, self.source, self.description, self.transform = name, source, description, transform

    @property
    def is_fallback(self) -> bool:
        return self.source != "real"

    def __len__(self) -> int:
        return len(self.targets)

    def _statistics(self, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and std as (C, 1, 1) tensors on `device`, ready to broadcast over images."""
        return (torch.tensor(self.mean, device=device).view(-1, 1, 1),
                torch.tensor(self.std, device=device).view(-1, 1, 1))

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images, or float images in [0, 1], shaped (…, C, H, W) -> normalised float images."""
        pixels = images if images.is_floating_point() else images.float() / 255
        mean, std = self._statistics(images.device)
        return (pixels - mean) / std

    def unnormalize(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised float images -> values in [0, 1] for display."""
        mean, std = self._statistics(images.device)
        return (images * std + mean).clamp(0, 1)

    def __getitem__(self, index: int):
        image = self.images[index].float() / 255  # (C, H, W) pixel values in [0, 1]
        if self.transform is not None:
            image = self.transform(image)
        return self.normalize(image), self.targets[index]

    def tensors(self, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """All images (normalised, no transform) and labels as two tensors, e.g. to keep on a GPU."""
        images = self.images.to(device) if device is not None else self.images
        return self.normalize(images), self.targets.to(images.device)

    def device_loader(self, batch_size: int, device, shuffle: bool = False, transform=None, drop_last: bool = False,
                      generator: torch.Generator | None = None) -> DeviceLoader:
        """Batches of the whole dataset kept on `device`: the fast path for MNIST- and CIFAR-sized data.

        The uint8 images move to the device once. Each batch is turned into pixel values
        in [0, 1] there, passed through `transform` (a function of a whole batch
        (B, C, H, W), e.g. `random_horizontal_flip`; it must decide randomly per image),
        and normalised. A per-image `dataset.transform` cannot run here, so a dataset
        that has one raises an error: augmentation is never dropped by accident.
        The other arguments are those of `DeviceLoader`.
        """
        if self.transform is not None:
            raise ValueError(f"{self.name} has a per-image transform ({self.transform!r}), which device_loader cannot "
                             "apply; use the dataset without it and pass a batch version as transform=..., "
                             "or use a DataLoader.")
        images, targets = self.images.to(device), self.targets.to(device)
        mean, std = self._statistics(images.device)  # made once, not per batch

        def to_batch(batch: torch.Tensor) -> torch.Tensor:
            pixels = batch.float() / 255
            return ((pixels if transform is None else transform(pixels)) - mean) / std

        return DeviceLoader(images, targets, batch_size, shuffle=shuffle, transform=to_batch, drop_last=drop_last,
                            generator=generator)

    def _select(self, index: torch.Tensor, transform="same") -> "ImageDataset":
        return ImageDataset(self.images[index], self.targets[index], self.classes, self.mean, self.std, self.name,
                            self.source, self.description, self.transform if transform == "same" else transform)

    def subset(self, num_samples: int, seed: int = 0) -> "ImageDataset":
        """A random subset of `num_samples` images (all of them if there are fewer)."""
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        return self._select(order[:num_samples])

    def split(self, dev_fraction: float = 0.2, seed: int = 0) -> tuple["ImageDataset", "ImageDataset"]:
        """Disjoint (train, dev) parts; the dev part gets no transform (never augment evaluation data)."""
        if not 0 < dev_fraction < 1:
            raise ValueError(f"dev_fraction must be between 0 and 1, got {dev_fraction}.")
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        num_dev = int(round(len(self) * dev_fraction))
        return self._select(order[num_dev:]), self._select(order[:num_dev], transform=None)

    def __repr__(self) -> str:
        return (f"ImageDataset({self.name}, {self.source}: {len(self)} images of shape "
                f"{tuple(self.images.shape[1:])}, {len(self.classes)} classes)")


def _check_split(split: str) -> bool:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    return split == "train"


def _load_real(name: str, make, check=None):
    """Build the torchvision dataset from local files, downloading, unpacking and verifying them if needed.

    `check(root)` says what is wrong with files that torchvision would read without checking them, or None.
    """
    root = data_root()
    problem = check(root) if check else None
    if problem is None:
        try:
            return make(root)
        except (RuntimeError, OSError):  # torchvision: files missing or failing its own check
            pass
    try:
        download(name, root)  # fetches what is missing or damaged, unpacks again what was changed
    except DataUnavailable as error:
        if problem is None:
            raise
        raise DataUnavailable(f"{problem}; {error}", summary=f"{problem}; {error.summary}") from error
    problem = check(root) if check else None
    if problem:
        raise RuntimeError(f"{problem}, even after verifying and unpacking the archives again.")
    return make(root)


_MNIST_FILES = (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))


def _idx_count(path: Path, magic: int, item_shape: tuple[int, ...]) -> int:
    """Number of items in an MNIST (IDX) file, after checking its header against its size."""
    with open(path, "rb") as handle:
        header = handle.read(8 + 4 * len(item_shape))
    values = struct.unpack(f">{len(header) // 4}I", header) if len(header) == 8 + 4 * len(item_shape) else (0,)
    if values[0] != magic or values[2:] != item_shape:
        raise ValueError(f"{path} is not an MNIST file (its header is wrong: random or zeroed bytes?)")
    expected = len(header) + values[1] * math.prod(item_shape)
    if path.stat().st_size != expected:
        raise ValueError(f"{path} has {path.stat().st_size} bytes, its header announces {expected} (truncated?)")
    return values[1]


def _check_mnist(root) -> str | None:
    """What is wrong with the unpacked MNIST files, or None (missing files are torchvision's to report).

    Compares them with the record `download` wrote when unpacking them (size and SHA-256), then checks
    what any copy must satisfy: IDX headers that match the sizes, as many labels as images, labels 0..9.
    """
    problem = check_unpacked("mnist", root)
    raw = Path(root) / "MNIST" / "raw"
    for images_name, labels_name in _MNIST_FILES if problem is None else ():
        images, labels = raw / images_name, raw / labels_name
        if not (images.is_file() and labels.is_file()):
            continue
        try:
            num_images, num_labels = _idx_count(images, 2051, (28, 28)), _idx_count(labels, 2049, ())
        except (ValueError, OSError) as error:
            return str(error)
        if num_images != num_labels:
            return f"{images} holds {num_images} images but {labels} {num_labels} labels"
        if max(labels.read_bytes()[8:], default=0) > 9:
            return f"{labels} holds labels above 9 (damaged)"
    return problem


DIGIT_COPIES = {True: 5, False: 3}  # drawn versions of each training / test digit in the MNIST fallback


@functools.lru_cache(maxsize=2)
def _digits_as_mnist(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 real 8x8 digits drawn like MNIST digits: sharpened, in a 20x20 box centred in 28x28.

    A fixed 20% of the digits (360) form the test split. Each digit is drawn several times
    (`DIGIT_COPIES`), moved at random by a small shift, rotation, shear and scale
    (`synthetic.draw_digits`), so that, as in MNIST, strokes are sharp and do not sit on
    exactly the same pixels in every image. Versions of one digit stay in one split.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16  # (N, 1, 8, 8) ink in [0, 1]
    labels = torch.tensor(digits.target)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    num_test = 360  # a fixed 20% test split
    index = order[num_test:] if train else order[:num_test]
    copies = DIGIT_COPIES[train]
    drawn = draw_digits(images[index], copies, seed=0 if train else 1)
    labels = labels[index].repeat_interleave(copies)
    mixed = torch.randperm(len(labels), generator=torch.Generator().manual_seed(2))  # copies not side by side
    return (drawn[mixed] * 255).round().to(torch.uint8), labels[mixed]


def _torchvision_datasets():
    """torchvision.datasets, imported only when a real dataset is read: importing torchvision
    takes a second or more, and the chapters without images never need it."""
    import torchvision

    return torchvision.datasets


def load_mnist(split: str = "train", transform=None) -> ImageDataset:
    """MNIST (60,000 train / 10,000 test), or the labelled scikit-learn digits fallback.

    Args:
        split: "train" or "test".
        transform: applied to each image as pixel values in [0, 1], before normalisation
            (e.g. for augmentation of training data).
    """
    train = _check_split(split)
    try:
        real = _load_real("mnist", lambda root: _torchvision_datasets().MNIST(root, train=train, download=False),
                          check=_check_mnist)
        return ImageDataset(real.data.unsqueeze(1), real.targets, [str(d) for d in range(10)], (0.1307,),
                            (0.3081,), "MNIST", "real", f"MNIST {split} set (real)", transform)
    except DataUnavailable as error:
        fallback = ("scikit-learn digits: 1,797 real 8x8 handwritten digits, sharpened and drawn into 28x28 with a "
                    "random small shift, tilt and size (5 versions of each of 1,437 training digits, 3 of each of "
                    "360 test digits)")
        say_fallback("mnist", error, fallback)
    images, labels = _digits_as_mnist(train)
    train_images = _digits_as_mnist(True)[0].float() / 255  # statistics from the training part only
    return ImageDataset(images, labels, [str(d) for d in range(10)], (train_images.mean().item(),),
                        (train_images.std().item(),), "MNIST fallback (scikit-learn digits)", "fallback",
                        f"FALLBACK for MNIST: {fallback}", transform)


@functools.lru_cache(maxsize=2)
def _shapes(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return make_shapes(10000 if train else 4000, seed=0 if train else 1)


CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def load_cifar10(split: str = "train", transform=None) -> ImageDataset:
    """CIFAR-10 (50,000 train / 10,000 test), or the labelled synthetic-shapes fallback.

    Args:
        split: "train" or "test".
        transform: applied to each image as pixel values in [0, 1], before normalisation
            (e.g. random flips for training data).
    """
    train = _check_split(split)
    try:
        real = _load_real("cifar10", lambda root: _torchvision_datasets().CIFAR10(root, train=train, download=False),
                          check=lambda root: check_unpacked("cifar10", root, hashes=False))  # torchvision checks MD5s
        images = torch.from_numpy(real.data).permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
        return ImageDataset(images, torch.tensor(real.targets), real.classes, CIFAR10_MEAN, CIFAR10_STD,
                            "CIFAR-10", "real", f"CIFAR-10 {split} set (real)", transform)
    except DataUnavailable as error:
        fallback = ("synthetic shapes: 32x32 colour images of 10 shapes (disk, ring, ..., flag) at random places, sizes "
                    "and colours on varied backgrounds, drawn by course_utils, not photographs (10,000 train / 4,000 test)")
        say_fallback("cifar10", error, fallback)
    images, labels = _shapes(train)
    train_images = _shapes(True)[0].float() / 255  # statistics from the training part only
    mean = tuple(train_images.mean(dim=(0, 2, 3)).tolist())
    std = tuple(train_images.std(dim=(0, 2, 3)).tolist())
    return ImageDataset(images, labels, SHAPE_CLASSES, mean, std, "CIFAR-10 fallback (synthetic shapes)",
                        "fallback", f"FALLBACK for CIFAR-10: {fallback}", transform)
