"""Helpers shared by the chapters of the course-book: Runner, data, plots, checks.

Modules: `runner` (Runner), `callbacks` (EarlyStopping, BestModelSaver),
`checkpoint` (atomic saves, RNG state), `data` (registry and downloads),
`datasets` (MNIST, CIFAR-10), `loaders` (DeviceLoader), `tabular` (UCI tables), `synthetic`
(generated fallbacks), `metrics`, `plotting`, `exercises` (self-checks),
`student` (student versions), `validation` (clear errors for common mistakes),
`utils` (FAST, device, seeds, timer, results). Helpers of single chapters, imported
from their modules: `graphs` (2), `mlbasics` (3), `text` and `reviews` (8), `rl` (9),
`style` (10).
"""

from .callbacks import BestModelSaver, Callback, EarlyStopping
from .data import DataUnavailable, download
from .datasets import ImageDataset, load_cifar10, load_mnist
from .exercises import check, expect, expect_close, expect_equal, expect_shape
from .loaders import DeviceLoader, random_grayscale, random_horizontal_flip
from .metrics import accuracy, binary_accuracy, classification_scores, confusion_matrix, mean_and_band
from .plotting import plot_confusion_matrix, plot_decision_boundary, plot_history, show_images
from .runner import Runner
from .tabular import Table, load_credit_default, load_energy, load_somerville
from .utils import FAST, Timer, count_parameters, describe_device, get_device, record_results, set_seed

__version__ = "0.1.0"

__all__ = [
    "FAST", "BestModelSaver", "Callback", "DataUnavailable", "DeviceLoader", "EarlyStopping", "ImageDataset",
    "Runner", "Table", "Timer", "accuracy", "binary_accuracy", "check", "classification_scores", "confusion_matrix",
    "count_parameters", "describe_device", "download", "expect", "expect_close", "expect_equal", "expect_shape",
    "get_device", "load_cifar10", "load_credit_default", "load_energy", "load_mnist", "load_somerville", "mean_and_band",
    "plot_confusion_matrix", "plot_decision_boundary", "plot_history", "random_grayscale", "random_horizontal_flip",
    "record_results", "set_seed", "show_images",
]
