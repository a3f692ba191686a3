"""A device-resident data path for small datasets (MNIST, CIFAR-10 size).

A `torch.utils.data.DataLoader` assembles every batch in Python, one sample
at a time, and copies it to the GPU. When the whole dataset fits on the device
(60,000 MNIST images are 188 MB as float32), it is much faster to move it there
once, shuffle by index and slice batches on the device, with augmentation done
on whole batches there too.
"""

from __future__ import annotations

import math

import torch

__all__ = ["DeviceLoader", "random_grayscale", "random_horizontal_flip"]


class DeviceLoader:
    """Batches of `(inputs[idx], targets[idx])` from tensors that stay on one device.

    Any tensors will do: images, a table's rows, token ids. For small datasets this replaces
    `DataLoader(TensorDataset(inputs, targets), ...)`, which builds every batch in Python one
    sample at a time and copies it to the GPU.

    Args:
        inputs: (N, ...) tensor, on the device you train on (or pass `device`). A NumPy
            array is taken as it is, so NumPy's float64 stays float64: convert it with
            `.astype(np.float32)` for a float32 model (Apple's MPS has no float64 at all).
        targets: (N, ...) tensor on the same device.
        batch_size: samples per batch.
        shuffle: draw a new random order every epoch.
        transform: optional function applied to each input batch, e.g. `random_horizontal_flip`.
        drop_last: skip a last, smaller batch.
        generator: optional CPU `torch.Generator` for the order, as in `DataLoader`. By
            default the global CPU RNG is used, which `set_seed` seeds and checkpoint
            resume restores; a generator of your own is neither. The order is drawn on
            the CPU, so a seed gives the same batches on every device.
        device: if given, move `inputs` and `targets` there once, now.
    """

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, shuffle: bool = False,
                 transform=None, drop_last: bool = False, generator: torch.Generator | None = None,
                 device=None) -> None:
        inputs, targets = torch.as_tensor(inputs), torch.as_tensor(targets)
        if device is not None:
            inputs, targets = inputs.to(device), targets.to(device)
        if len(inputs) != len(targets):
            raise ValueError(f"inputs and targets differ in length: {len(inputs)} vs {len(targets)}.")
        if inputs.device != targets.device:
            raise ValueError(f"inputs are on {inputs.device} but targets on {targets.device}; move both to one device.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle, self.transform, self.drop_last = batch_size, shuffle, transform, drop_last
        self.generator = generator

    def __len__(self) -> int:
        rounding = math.floor if self.drop_last else math.ceil
        return rounding(len(self.inputs) / self.batch_size)

    def __iter__(self):
        n, device = len(self.inputs), self.inputs.device
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(device)
        else:
            order = torch.arange(n, device=device)
        for i in range(len(self)):
            index = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.inputs[index]
            if self.transform is not None:
                x = self.transform(x)
            yield x, self.targets[index]


def random_horizontal_flip(images: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Flip each image of a (B, C, H, W) or (B, H, W) batch left-right with probability `p`, on its own device."""
    if images.ndim < 3:
        raise ValueError(f"random_horizontal_flip expects a batch of images (B, C, H, W) or (B, H, W), got shape "
                         f"{tuple(images.shape)}.")
    flip = torch.rand(len(images), device=images.device) < p
    return torch.where(flip.view(-1, *[1] * (images.ndim - 1)), images.flip(-1), images)


def random_grayscale(images: torch.Tensor, p: float = 0.1) -> torch.Tensor:
    """Turn each RGB image of a (B, 3, H, W) batch grey with probability `p`, on its own device.

    Uses the luma weights of torchvision's `Grayscale` and keeps three (equal) channels,
    like `v2.RandomGrayscale`. Expects float pixel values in [0, 1], not normalised images.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"random_grayscale expects RGB batches (B, 3, H, W), got shape {tuple(images.shape)}.")
    if not images.is_floating_point():
        raise ValueError(f"random_grayscale expects float pixel values in [0, 1], got {images.dtype}; "
                         "convert uint8 images with images.float() / 255.")
    weights = torch.tensor([0.2989, 0.587, 0.114], device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    gray = (images * weights).sum(dim=1, keepdim=True).expand_as(images)
    pick = torch.rand(len(images), device=images.device) < p
    return torch.where(pick.view(-1, 1, 1, 1), gray, images)
