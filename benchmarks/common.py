"""Shared pieces of the benchmarks: the seed's SimpleCNN, fake data, and timing."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F


class SimpleCNN(nn.Module):
    """The MNIST network of seed 001: two 5x5 convolutions with max-pooling, then two linear layers."""

    def __init__(self, num_features: int = 6) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, num_features, kernel_size=5)
        self.conv2 = nn.Conv2d(num_features, num_features, kernel_size=5)
        self.fc1 = nn.Linear(num_features * 4 * 4, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):  # (B, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, F, 12, 12)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, F, 4, 4)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))  # logits (B, 10)


def fake_images(num_images: int, shape, num_classes: int = 10, seed: int = 0):
    """Random images and labels of a real dataset's shape (speed does not depend on the content)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(num_images, *shape, generator=g), torch.randint(0, num_classes, (num_images,), generator=g)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, repeats: int) -> list[float]:
    """Wall-clock seconds of `fn()` over `repeats` runs (GPU work included)."""
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def median(values) -> float:
    return statistics.median(values)
