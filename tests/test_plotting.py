"""The book's figure defaults read at the website's column width (issue 23, point 5)."""

import matplotlib.pyplot as plt
import pytest

from course_utils import plot_history, show_images
from course_utils.plotting import BOOK_STYLE, COLUMN_INCHES, panel_figsize


def test_book_style_is_active_after_import():
    assert plt.rcParams["font.size"] == BOOK_STYLE["font.size"] >= 11
    assert plt.rcParams["xtick.labelsize"] >= 10


@pytest.mark.parametrize("ncols", [1, 2, 3])
def test_panel_figsize_fits_the_column(ncols):
    width, height = panel_figsize(ncols)
    # shown at most 1.5x smaller than drawn (the browser test's limit), at 100 dpi
    assert width <= 1.5 * COLUMN_INCHES and height > 0


def test_panel_figsize_refuses_four_panels_in_a_row():
    with pytest.raises(ValueError, match="rows"):
        panel_figsize(4)


def _history(epochs):
    return {"epoch": list(range(1, epochs + 1)), "step": list(range(10, 10 * epochs + 1, 10)),
            "train_loss": [1 / e for e in range(1, epochs + 1)], "dev_loss": [1.1 / e for e in range(1, epochs + 1)],
            "train_acc": [0.5] * epochs, "dev_acc": [0.6] * epochs}


@pytest.mark.parametrize("epochs", [3, 5, 7])
def test_epoch_ticks_are_whole_numbers(epochs):
    fig = plot_history(_history(epochs), metrics=("loss", "acc"))
    try:
        for ax in fig.axes:
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
    finally:
        plt.close(fig)


def test_history_with_many_metrics_wraps_to_rows():
    history = _history(4)
    for name in ("f1", "auc"):
        history[f"train_{name}"], history[f"dev_{name}"] = [0.5] * 4, [0.5] * 4
    fig = plot_history(history, metrics=("loss", "acc", "f1", "auc"))
    try:
        width, _ = fig.get_size_inches()
        assert width <= 1.5 * COLUMN_INCHES
    finally:
        plt.close(fig)


def test_image_grid_fits_the_column():
    import torch
    fig = show_images(torch.rand(16, 1, 8, 8), ncols=8)
    try:
        assert fig.get_size_inches()[0] <= 1.5 * COLUMN_INCHES
    finally:
        plt.close(fig)
