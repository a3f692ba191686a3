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

__all__ = ["DeviceLoader", "random_horizontal_flip"]


class DeviceLoader:
    """Batches of `(inputs[idx], targets[idx])` from tensors that stay on one device.

    Args:
        inputs: (N, ...) tensor, already on the device you train on.
        targets: (N, ...) tensor on the same device.
        batch_size: samples per batch.
        shuffle: draw a new random order every epoch (from the device's global RNG,
            so `set_seed` and checkpoint resume make it repeat).
        transform: optional function applied to each input batch, e.g. `random_horizontal_flip`.
        drop_last: skip a last, smaller batch.
    """

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, shuffle: bool = False,
                 transform=None, drop_last: bool = False) -> None:
        if len(inputs) != len(targets):
            raise ValueError(f"inputs and targets differ in length: {len(inputs)} vs {len(targets)}.")
        if inputs.device != targets.device:
            raise ValueError(f"inputs are on {inputs.device} but targets on {targets.device}; move both to one device.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle, self.transform, self.drop_last = batch_size, shuffle, transform, drop_last

    def __len__(self) -> int:
        rounding = math.floor if self.drop_last else math.ceil
        return rounding(len(self.inputs) / self.batch_size)

    def __iter__(self):
        n, device = len(self.inputs), self.inputs.device
        order = torch.randperm(n, device=device) if self.shuffle else torch.arange(n, device=device)
        for i in range(len(self)):
            index = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.inputs[index]
            if self.transform is not None:
                x = self.transform(x)
            yield x, self.targets[index]


def random_horizontal_flip(images: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Flip each image of a (B, C, H, W) batch left-right with probability `p`, on its own device."""
    flip = torch.rand(len(images), device=images.device) < p
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)
