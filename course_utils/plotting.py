"""Plots for the book: training history, image grids, decision boundaries, confusion matrices.

Every function draws into a Matplotlib figure and returns it; nothing is shown
or saved unless asked (`save_path=`), so the same code works in notebooks and
plain scripts (call `plt.show()` there). Figures keep an opaque background so
they read in dark mode too.

Importing this module (any `import course_utils` does) sets Matplotlib
defaults that read at the website's column width (about 750 px at 1280 px,
the width of a 7.5-inch figure at 100 dpi): larger fonts and a default figure
size that is shown about full size. A figure drawn much wider is shrunk to
the column and its labels with it: keep at most three panels in a row at about
3.3 inches each (`panel_figsize`), and more rows instead of more columns.
"""

from __future__ import annotations

import math

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

__all__ = ["BOOK_STYLE", "COLUMN_INCHES", "panel_figsize", "plot_confusion_matrix", "plot_decision_boundary",
           "plot_history", "show_images"]

COLUMN_INCHES = 7.5  # the website's text column at 1280 px is about 750 px = 7.5 in at 100 dpi
BOOK_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10.5,
    "ytick.labelsize": 10.5,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
}
mpl.rcParams.update(BOOK_STYLE)


def panel_figsize(ncols: int, nrows: int = 1, height: float = 3.2) -> tuple[float, float]:
    """A figure size for `ncols` x `nrows` panels that fits the page's column.

    At most three panels go in a row: more would shrink every label below
    legibility on the website, so put them in more rows.
    """
    if not 1 <= ncols <= 3:
        raise ValueError(f"{ncols} panels in a row do not fit the page's column (at most 3): "
                         "use more rows, e.g. plt.subplots(2, 2) instead of plt.subplots(1, 4).")
    width = min(COLUMN_INCHES * 1.25, 3.6 * ncols + 0.4)
    return width, height * nrows


def _finish(fig, save_path):
    fig.patch.set_alpha(1.0)
    fig.tight_layout()
    if save_path is not None:
        fig.savefig(save_path, dpi=150, facecolor="white")
    return fig


def plot_history(history: dict, metrics=("loss",), title: str = "Training history", save_path=None):
    """Train vs dev curves from a `Runner.train` history, one panel per metric.

    Args:
        history: dict of lists with "epoch", "step" and "train_<m>" / "dev_<m>" keys.
        metrics: the metric names to plot, e.g. ("loss", "acc").
    """
    if not history.get("step"):
        raise ValueError("The history is empty: nothing was trained or evaluated yet. Pass the dict that "
                         "Runner.train() returned after at least one epoch.")
    if isinstance(metrics, str):
        metrics = (metrics,)
    logged = sorted({key.split("_", 1)[1] for key in history if key.startswith(("train_", "dev_"))})
    unknown = [metric for metric in metrics if metric not in logged]
    if unknown:
        raise ValueError(f"The history has no {', '.join(map(repr, unknown))}: its metrics are {logged} "
                         "(the names given in Runner(metrics=...), and 'loss').")
    steps = history["step"]
    per_epoch = len(set(history["epoch"])) == len(history["epoch"])
    x, x_label = (history["epoch"], "epoch") if per_epoch else (steps, "training step")
    ncols = min(len(metrics), 3)
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=panel_figsize(ncols, nrows, height=3.4), squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.axis("off")
    for ax, metric in zip(axes.flat, metrics):
        for split, style in (("train", "-o"), ("dev", "--s")):
            key = f"{split}_{metric}"
            if key in history:
                ax.plot(x, history[key], style, markersize=3, label=split)
        ax.set(title=f"{title}: {metric}" if len(metrics) == 1 else metric, xlabel=x_label, ylabel=metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs and steps are whole numbers
        ax.legend()
        ax.grid(alpha=0.3)
    if len(metrics) > 1:
        fig.suptitle(title)
    return _finish(fig, save_path)


def show_images(images: torch.Tensor, labels=None, predictions=None, classes=None, dataset=None, ncols: int = 8,
                title: str = "Images", save_path=None):
    """A grid of images with their labels (and predictions, wrong ones in red).

    Args:
        images: (N, C, H, W) tensor (or (N, H, W) greyscale), uint8 or float;
            normalised floats are un-normalised with `dataset.unnormalize` when
            `dataset` is given.
        labels, predictions: optional (N,) class indices.
        classes: class names (by default `dataset.classes` or the indices).
    """
    images = torch.as_tensor(images).detach().cpu()
    if images.ndim == 3:  # (N, H, W), e.g. torchvision's MNIST .data
        images = images.unsqueeze(1)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"show_images expects a non-empty batch of images shaped (N, C, H, W) or (N, H, W), "
                         f"got shape {tuple(images.shape)}.")
    if images.dtype in (torch.float16, torch.bfloat16):
        images = images.float()  # NumPy and Matplotlib have no bfloat16
    if dataset is not None and images.is_floating_point():
        images = dataset.unnormalize(images)
    elif not images.is_floating_point():
        images = images.float() / 255
    classes = classes if classes is not None else getattr(dataset, "classes", None)
    name = (lambda i: classes[int(i)]) if classes is not None else (lambda i: str(int(i)))
    n = len(images)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    side = min(1.6, COLUMN_INCHES * 1.25 / ncols)  # the whole grid fits the column
    fig, axes = plt.subplots(nrows, ncols, figsize=(side * ncols, (side + 0.3) * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        image = images[i].permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C) for imshow
        ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        caption, color = [], "black"
        if labels is not None:
            caption.append(f"label {name(labels[i])}")
        if predictions is not None:
            caption.append(f"pred {name(predictions[i])}")
            if labels is not None and int(predictions[i]) != int(labels[i]):
                color = "red"
        ax.set_title("\n".join(caption), fontsize=9.5, color=color)
    fig.suptitle(title)
    return _finish(fig, save_path)


@torch.no_grad()
def plot_decision_boundary(predict, x, y, title: str = "Decision boundary", resolution: int = 200, ax=None,
                           save_path=None):
    """Colour the plane by predicted class and scatter the 2-D points on top.

    Args:
        predict: function from an (M, 2) float tensor to (M,) predicted class labels.
        x: (N, 2) points. y: (N,) labels.
    """
    x, y = torch.as_tensor(x, dtype=torch.float32).cpu(), torch.as_tensor(y).cpu().reshape(-1)
    pad = 0.1 * (x.max(0).values - x.min(0).values)
    low, high = x.min(0).values - pad, x.max(0).values + pad
    g0, g1 = torch.meshgrid(torch.linspace(low[0], high[0], resolution), torch.linspace(low[1], high[1], resolution),
                            indexing="xy")
    grid = torch.stack([g0.reshape(-1), g1.reshape(-1)], dim=1)  # (resolution**2, 2)
    regions = torch.as_tensor(predict(grid)).cpu().reshape(resolution, resolution).float()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 4.2))
    ax.contourf(g0.numpy(), g1.numpy(), regions.numpy(), alpha=0.25, cmap="coolwarm")
    for label in torch.unique(y).tolist():
        points = x[y == label]
        ax.scatter(points[:, 0], points[:, 1], s=12, label=f"class {int(label)}", edgecolors="k", linewidths=0.3)
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.legend()
    return _finish(fig, save_path)


def plot_confusion_matrix(matrix, classes=None, normalize: bool = False, title: str = "Confusion matrix",
                          save_path=None):
    """Heat map of a confusion matrix (rows: true class, columns: predicted class)."""
    matrix = np.asarray(matrix, dtype=float)
    if normalize:
        matrix = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
    classes = classes if classes is not None else [str(i) for i in range(len(matrix))]
    size = max(4.0, 0.5 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    shown = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(shown, ax=ax, label="fraction" if normalize else "count")
    ticks = range(len(classes))
    ax.set(xticks=ticks, yticks=ticks, xticklabels=classes, yticklabels=classes, title=title,
           xlabel="predicted class", ylabel="true class")
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}" if normalize else f"{int(value)}", ha="center", va="center", fontsize=8,
                color="white" if value > matrix.max() / 2 else "black")
    return _finish(fig, save_path)
