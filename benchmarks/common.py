"""Shared pieces of the benchmarks: the original course's SimpleCNN, fake data, timing, and the report file."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from course_utils import describe_device

REPORTS = Path(__file__).resolve().parents[1] / "reports"


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


def benchmark_parser(doc: str, num_images: int | None, images_help: str | None = None) -> argparse.ArgumentParser:
    """The options every benchmark has: --device, --num-images and --report; each script adds its own."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the best device found)")
    parser.add_argument("--num-images", type=int, default=num_images, help=images_help)
    parser.add_argument("--report", action="store_true", help="save the result for the book's status page")
    return parser


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


def plain_loop(model, optimizer, loss_fn, loader, num_epochs: int, device) -> list[float]:
    """The hand-written loop the Runner is compared with: the same steps, the mean loss read once per epoch."""
    model.train()
    epoch_losses = []
    for _ in range(num_epochs):
        loss_sum, count = torch.zeros((), device=device), 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(y)
            count += len(y)
        epoch_losses.append(loss_sum.item() / count)
    return epoch_losses


def alternating(run_a, run_b, device: torch.device, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds of `run_a()` and `run_b()`, alternated so that both see the same machine load (after a warm-up).

    The order flips every round (a b, b a, a b, ...): on this 2-core CPU the second run of a pair was
    about 2% slower even when both ran the same code, which would count against whichever runs second.
    """
    run_a(), run_b()
    times_a, times_b = [], []
    for round_ in range(repeats):
        if round_ % 2 == 0:
            times_a += timed(run_a, device, 1)
            times_b += timed(run_b, device, 1)
        else:
            times_b += timed(run_b, device, 1)
            times_a += timed(run_a, device, 1)
    return times_a, times_b


def save_result(name: str, device: torch.device, result: dict) -> Path:
    """Merge one benchmark's result into reports/benchmarks-<cpu|gpu>.json, which the book's status page shows.

    `result` holds at least "value" (the measured number), "unit", "budget" (text) and
    "passed" (True, False, or None where the budget is for another kind of device).
    """
    path = REPORTS / f"benchmarks-{'gpu' if device.type == 'cuda' else device.type}.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    report[name] = {**result, "date": time.strftime("%Y-%m-%d"), "device": describe_device(device),
                    "torch": torch.__version__, "python": platform.python_version()}
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path}")
    return path
