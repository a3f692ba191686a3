"""Small helpers every chapter needs: FAST mode, device, seeds, timing, results."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import replacing

__all__ = [
    "FAST",
    "Timer",
    "count_parameters",
    "describe_device",
    "env_flag",
    "get_device",
    "record_results",
    "set_seed",
]


_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def env_flag(name: str) -> bool:
    """True when the environment variable `name` is 1/true/yes/on, False when it is 0/false/no/off, empty or unset.

    Raises:
        ValueError: for any other value (`2`, `y`, `fast`, ...), which would otherwise silently mean off.
    """
    value = os.environ.get(name, "").strip().lower()
    if value not in _ON + _OFF:
        raise ValueError(f"{name}={os.environ[name]!r} is not understood: set it to {'/'.join(_ON)} to turn it on, "
                         f"or to {'/'.join(_OFF[:-1])} (or leave it empty) to turn it off; any case works.")
    return value in _ON


# COURSE_FAST=1 shrinks data and epochs so a chapter runs in about a minute on a laptop CPU.
FAST = env_flag("COURSE_FAST")


def get_device(preferred: str | None = None) -> torch.device:
    """Pick the device to train on: CUDA, then Apple MPS, then CPU.

    Args:
        preferred: "cuda", "mps", "cpu" or "auto". Defaults to the environment
            variable COURSE_DEVICE, or "auto" when that is unset.

    Raises:
        ValueError: if the requested device is unknown or not available here.
    """
    name = (preferred or os.environ.get("COURSE_DEVICE") or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    kind = name.split(":")[0]
    if kind not in available:
        raise ValueError(f"Unknown device {name!r}: use 'auto', 'cpu', 'cuda' or 'mps' (COURSE_DEVICE).")
    if not available[kind]:
        raise ValueError(f"Device {name!r} was requested but is not available on this machine; "
                         "unset COURSE_DEVICE or set it to 'auto' or 'cpu'.")
    return torch.device(name)


def describe_device(device=None) -> str:
    """The device's name for reports, e.g. "NVIDIA H200" or "CPU (2 cores)"."""
    device = torch.device(device) if device is not None else get_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type.upper()} ({os.cpu_count()} cores)" if device.type == "cpu" else device.type.upper()


def set_seed(seed: int, deterministic: bool | None = None) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so runs repeat.

    Args:
        seed: the seed.
        deterministic: True asks PyTorch for deterministic kernels (slower on a GPU;
            call it before any CUDA work, as cuBLAS reads its setting once), False
            turns that off again, None (the default) leaves the setting as it is.
            The setting is global: it holds for every later cell.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA and MPS generators too
    if deterministic is not None:
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(deterministic)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters in `model` (only trainable ones by default)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class Timer:
    """Wall-clock timer, usable as a context manager.

    Example:
        >>> with Timer() as t:
        ...     _ = sum(range(1000))
        >>> t.seconds >= 0
        True
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.seconds = 0.0

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = time.perf_counter() - self.start

    def elapsed(self) -> float:
        """Seconds since the timer started."""
        return time.perf_counter() - self.start


def _to_json_value(value):
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (np.generic, np.ndarray)):
        value = value.tolist()  # .tolist() of a NumPy number is the Python number
    return value


def record_results(chapter: str, results: dict) -> Path | None:
    """Record a chapter's key results for reports and the book's status page.

    Writes (or updates) `$COURSE_METRICS_DIR/<chapter>.json` when that
    environment variable is set; otherwise does nothing. The file also notes
    the device, FAST mode and library versions.

    Args:
        chapter: a short name such as "04_tensors_autograd".
        results: name -> number (or short string), e.g. {"test_acc": 0.991}.

    Returns:
        The path written, or None when COURSE_METRICS_DIR is unset.
    """
    folder = os.environ.get("COURSE_METRICS_DIR")
    if not folder:
        return None
    path = Path(folder) / f"{chapter}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {"results": {}}
    data["results"].update({key: _to_json_value(value) for key, value in results.items()})
    data.update(
        chapter=chapter,
        fast=FAST,
        device=str(get_device()),
        device_name=describe_device(),
        torch=torch.__version__,
        python=sys.version.split()[0],
        date=time.strftime("%Y-%m-%d"),
    )
    with replacing(path) as temporary:  # a reader (the status page) never sees half a file
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True))
    return path
